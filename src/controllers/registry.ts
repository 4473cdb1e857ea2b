// The operator's controllers. main.ts starts every one; each factory adds its controller(s), with any
// indexes they need, to the manager.

import type { OperatorConfig } from '../config.ts';
import type { Manager } from '../runtime/manager.ts';
import { addKeywardControllers } from './keyward.ts';

export type ControllerFactory = (manager: Manager, config: OperatorConfig) => void;

export const controllerFactories: readonly ControllerFactory[] = [addKeywardControllers];
