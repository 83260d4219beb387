// Generated from the gateway's event-type catalog by scripts/generate_apps.py. Do not edit.
import type { INodePropertyOptions } from 'n8n-workflow';

/** The trigger's event types: one option per type in the gateway's catalog. */
export const EVENT_TYPES: INodePropertyOptions[] = [
	{"name": "Task Completed", "value": "task.completed", "description": "A person.run task finished: its persona, results (summary + structured answers), turn-level transcript and scores."},
	{"name": "Survey Response Completed", "value": "survey.response.completed", "description": "A real survey response ingested from Typeform or Qualtrics, normalised."},
	{"name": "Gateway Destination Failing", "value": "gateway.destination.failing", "description": "Every attempt to a destination has failed for half of the auto-disable window (threshold 50), and again at 90 %; once per threshold per failure streak."},
	{"name": "Gateway Destination Disabled", "value": "gateway.destination.disabled", "description": "A destination was disabled: its deliveries wait (or, for 410 gone, end cancelled) until it is enabled again. `reason` says why."},
	{"name": "Gateway Destination Recovered", "value": "gateway.destination.recovered", "description": "A destination works again: the first success after a failing notice (`recoveredBy: success`), or it was enabled again (`recoveredBy: enabled`)."},
	{"name": "Gateway Delivery Exhausted", "value": "gateway.delivery.exhausted", "description": "A delivery failed for good: its retries ran out (or the failure was permanent). Replay it once the destination is fixed."},
];
