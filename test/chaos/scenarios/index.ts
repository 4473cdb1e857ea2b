// Every chaos scenario, in the order the PRNG indexes them (append new ones at the end, so old seeds keep their
// scenario).
import type { Scenario } from '../scenario.ts';
import { cloudFaults } from './cloud-faults.ts';
import { controlplaneRestart } from './controlplane-restart.ts';
import { leaderKillRotation } from './leader-kill-rotation.ts';
import { sigkillCeremony } from './sigkill-ceremony.ts';
import { sigkillDestruction } from './sigkill-destruction.ts';
import { sigkillGeneration } from './sigkill-generation.ts';
import { sigkillRotation } from './sigkill-rotation.ts';
import { tokenUnavailable } from './token-unavailable.ts';

export const SCENARIOS: readonly Scenario[] = [
  sigkillGeneration,
  sigkillRotation,
  sigkillDestruction,
  sigkillCeremony,
  controlplaneRestart,
  tokenUnavailable,
  cloudFaults,
  leaderKillRotation,
];
