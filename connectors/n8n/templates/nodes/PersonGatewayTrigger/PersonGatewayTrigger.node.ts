/**
 * Person Gateway Trigger: starts a workflow on each event the person gateway delivers.
 *
 * Activating the workflow subscribes this node's webhook URL on the gateway (`POST /hooks/n8n`);
 * the subscription's id and `whsec_` signing secret stay in the node's static data. Each delivery's
 * Standard Webhooks signature is checked over the raw body before the workflow runs: a missing or
 * forged one is answered 401 and runs nothing. Deactivating unsubscribes (`DELETE /hooks/n8n/{id}`).
 */
import type {
	IDataObject,
	IHookFunctions,
	IHttpRequestMethods,
	IHttpRequestOptions,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';

import { EVENT_TYPES } from './events';
import { signatureProblem } from './signature';

const CREDENTIAL = 'personGatewayApi';
const HOOKS = '/hooks/n8n';

interface Subscription {
	id: string;
	url: string;
	event: string;
	secret?: string;
}

interface Answer {
	statusCode: number;
	body: unknown;
}

/** One call to the gateway with the credential's `x-api-key`; the status comes back, not thrown. */
async function gateway(
	ctx: IHookFunctions,
	method: IHttpRequestMethods,
	url: string,
	extra: Partial<IHttpRequestOptions> = {},
): Promise<Answer> {
	const credentials = await ctx.getCredentials(CREDENTIAL);
	const answer = (await ctx.helpers.httpRequestWithAuthentication.call(ctx, CREDENTIAL, {
		method,
		baseURL: String(credentials.baseUrl).replace(/\/+$/, ''),
		url,
		json: true,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
		...extra,
	})) as Answer;
	return answer;
}

function refused(what: string, answer: Answer): Error {
	const detail = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
	return new Error(`Person Gateway ${what} failed (${answer.statusCode}): ${detail}`);
}

async function subscribe(ctx: IHookFunctions, url: string, event: string): Promise<Subscription> {
	const answer = await gateway(ctx, 'POST', HOOKS, { body: { url, event } });
	if (answer.statusCode !== 200 && answer.statusCode !== 201) throw refused('subscribe', answer);
	return answer.body as Subscription;
}

async function unsubscribe(ctx: IHookFunctions, id: string): Promise<void> {
	const answer = await gateway(ctx, 'DELETE', `${HOOKS}/${encodeURIComponent(id)}`);
	// 204, also for an id the gateway no longer knows; 404 means the same.
	if (answer.statusCode >= 300 && answer.statusCode !== 404) throw refused('unsubscribe', answer);
}

async function rawBodyOf(ctx: IWebhookFunctions): Promise<Buffer | undefined> {
	const req = ctx.getRequestObject() as unknown as {
		rawBody?: Buffer;
		readRawBody?: () => Promise<void>;
	};
	if (req.rawBody === undefined && typeof req.readRawBody === 'function') {
		await req.readRawBody();
	}
	return req.rawBody;
}

export class PersonGatewayTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Person Gateway Trigger',
		name: 'personGatewayTrigger',
		icon: 'file:personGateway.svg',
		group: ['trigger'],
		version: 1,
		subtitle: '={{$parameter["event"]}}',
		description: 'Starts the workflow when the person gateway delivers an event',
		defaults: { name: 'Person Gateway Trigger' },
		inputs: [],
		outputs: ['main'],
		credentials: [{ name: CREDENTIAL, required: true }],
		webhooks: [
			{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'webhook' },
		],
		properties: [
			{
				displayName: 'Event',
				name: 'event',
				type: 'options',
				required: true,
				default: EVENT_TYPES[0].value,
				options: EVENT_TYPES,
				description: 'The event type that starts the workflow',
			},
		],
	};

	webhookMethods = {
		default: {
			/** True when the gateway holds this URL's subscription and we hold its secret. */
			async checkExists(this: IHookFunctions): Promise<boolean> {
				const url = this.getNodeWebhookUrl('default') as string;
				const event = this.getNodeParameter('event') as string;
				const data = this.getWorkflowStaticData('node');
				const answer = await gateway(this, 'GET', HOOKS, { qs: { url, event } });
				if (answer.statusCode !== 200) throw refused('subscription lookup', answer);
				for (const sub of answer.body as Subscription[]) {
					if (sub.id === data.subscriptionId && typeof data.secret === 'string') return true;
					// Ours (the URL is this node's) but its secret is lost: replace it in create().
					await unsubscribe(this, sub.id);
				}
				delete data.subscriptionId;
				delete data.secret;
				return false;
			},

			async create(this: IHookFunctions): Promise<boolean> {
				const url = this.getNodeWebhookUrl('default') as string;
				const event = this.getNodeParameter('event') as string;
				let sub = await subscribe(this, url, event);
				if (!sub.secret) {
					// 200: it existed already and the secret is shown on the 201 only; start afresh.
					await unsubscribe(this, sub.id);
					sub = await subscribe(this, url, event);
				}
				if (!sub.id || !sub.secret) return false;
				const data = this.getWorkflowStaticData('node');
				data.subscriptionId = sub.id;
				data.secret = sub.secret;
				return true;
			},

			async delete(this: IHookFunctions): Promise<boolean> {
				const data = this.getWorkflowStaticData('node');
				if (typeof data.subscriptionId === 'string') {
					try {
						await unsubscribe(this, data.subscriptionId);
					} catch {
						return false;
					}
				}
				delete data.subscriptionId;
				delete data.secret;
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const raw = await rawBodyOf(this);
		const secret = this.getWorkflowStaticData('node').secret as string | undefined;
		const problem =
			raw === undefined
				? 'the request body could not be read'
				: signatureProblem(secret, this.getHeaderData(), raw, Math.floor(Date.now() / 1000));
		if (problem !== null || raw === undefined) {
			this.getResponseObject()
				.status(401)
				.json({ error: { code: 'invalid_signature', message: problem } });
			return { noWebhookResponse: true };
		}
		const body = JSON.parse(raw.toString('utf8')) as IDataObject | IDataObject[];
		return { workflowData: [this.helpers.returnJsonArray(body)] };
	}
}
