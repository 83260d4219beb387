/**
 * Standard Webhooks `v1` verification (HMAC-SHA256), as the person gateway signs each delivery.
 *
 * Signed content is `${webhook-id}.${webhook-timestamp}.${raw body}`; the key is the base64 part of
 * the subscription's `whsec_` secret; `webhook-signature` is a space-separated list of
 * `version,base64` items (two while a rotated secret overlaps). Pure: the clock comes in as
 * `nowSeconds`, and node's built-in `crypto` is the only import.
 */
import { createHmac, timingSafeEqual } from 'crypto';

/** The reference libraries accept a timestamp up to 5 minutes either side of now. */
export const TOLERANCE_SECONDS = 300;
const SECRET_PREFIX = 'whsec_';

export type HeaderValue = string | string[] | undefined;

function header(headers: Record<string, HeaderValue>, name: string): string | undefined {
	const value = headers[name];
	return Array.isArray(value) ? value[0] : value;
}

/** `null` when a `v1` signature of `body` by `secret` is valid now; otherwise why not. */
export function signatureProblem(
	secret: string | undefined,
	headers: Record<string, HeaderValue>,
	body: Buffer,
	nowSeconds: number,
	toleranceSeconds: number = TOLERANCE_SECONDS,
): string | null {
	if (!secret || !secret.startsWith(SECRET_PREFIX)) {
		return 'this trigger holds no signing secret: deactivate and activate the workflow again';
	}
	const id = header(headers, 'webhook-id');
	const timestamp = header(headers, 'webhook-timestamp');
	const signatures = header(headers, 'webhook-signature');
	if (!id || !timestamp || !signatures) {
		return 'missing webhook-id, webhook-timestamp or webhook-signature header';
	}
	if (!/^\d{1,12}$/.test(timestamp)) {
		return 'webhook-timestamp is not Unix seconds';
	}
	if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) {
		return 'webhook-timestamp is too far from now';
	}
	const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
	const expected = createHmac('sha256', key)
		.update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), body]))
		.digest();
	for (const item of signatures.split(' ')) {
		const comma = item.indexOf(',');
		if (comma < 0 || item.slice(0, comma) !== 'v1') continue;
		const given = Buffer.from(item.slice(comma + 1), 'base64');
		if (given.length === expected.length && timingSafeEqual(given, expected)) return null;
	}
	return 'no valid v1 signature';
}
