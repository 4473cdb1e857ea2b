// The operator's controllers. main.ts starts every one; each factory adds its controller(s), with any
// indexes they need, to the manager.

import type { ControllerFactory } from '../runtime/manager.ts';
import { addKeywardControllers } from './keyward.ts';

export const controllerFactories: readonly ControllerFactory[] = [addKeywardControllers];
