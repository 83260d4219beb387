// Copies what tsc does not emit (each node's codex .node.json and the SVG icons) into dist/,
// beside the compiled files that name them. Node's built-in fs only: no build dependency.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const assets = [
	['nodes/PersonGatewayTrigger/PersonGatewayTrigger.node.json', 'nodes/PersonGatewayTrigger'],
	['nodes/PersonGatewayTrigger/personGateway.svg', 'nodes/PersonGatewayTrigger'],
	['nodes/PersonGatewayTrigger/personGateway.svg', 'credentials'],
];
for (const [from, toDir] of assets) {
	const target = path.join(root, 'dist', toDir, path.basename(from));
	fs.mkdirSync(path.dirname(target), { recursive: true });
	fs.copyFileSync(path.join(root, from), target);
}
