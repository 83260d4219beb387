// Generated from the gateway's event-type catalog by scripts/generate_apps.py. Do not edit.
import type { INodePropertyOptions } from 'n8n-workflow';

/** The trigger's event types: one option per type in the gateway's catalog. */
export const EVENT_TYPES: INodePropertyOptions[] = [
	{"name": "Task Completed", "value": "task.completed", "description": "A person.run task finished: its persona, results (summary + structured answers), turn-level transcript and scores."},
	{"name": "Survey Response Completed", "value": "survey.response.completed", "description": "A real survey response ingested from Typeform or Qualtrics, normalised."},
];
