/** The person gateway's base URL and a tenant API key, sent as `x-api-key`; tested on `/hooks/me`. */
import type {
	IAuthenticateGeneric,
	ICredentialTestRequest,
	ICredentialType,
	INodeProperties,
} from 'n8n-workflow';

export class PersonGatewayApi implements ICredentialType {
	name = 'personGatewayApi';

	displayName = 'Person Gateway API';

	icon = 'file:personGateway.svg' as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-person-gateway';

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: '',
			placeholder: 'https://gateway.example.com',
			description: 'Where the person gateway answers, without a path',
			required: true,
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'A tenant API key (gateway keys create --tenant T)',
			required: true,
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: { 'x-api-key': '={{$credentials.apiKey}}' },
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl.replace(/\\/+$/, "")}}',
			url: '/hooks/me',
		},
	};
}
