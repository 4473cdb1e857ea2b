// The operator's entry point: `npm start -- [flags]` (see --help).

import { controllerFactories } from './controllers/registry.ts';
import { runOperator } from './runtime/operator.ts';

process.exit(await runOperator({ argv: process.argv.slice(2), controllers: controllerFactories }));
