// The seven steps of a root key ceremony as status shows them.
import { CEREMONY_STEPS } from '../../api/v1alpha1/keyceremony.ts';
import type { STEP_STATES, KeyCeremonyStatus } from '../../api/v1alpha1/keyceremony.ts';
import { formatTime } from '../../runtime/clock.ts';

export type StepName = (typeof CEREMONY_STEPS)[number];
export type StepState = (typeof STEP_STATES)[number];
type Step = NonNullable<KeyCeremonyStatus['steps']>[number];

export function initialSteps(): Step[] {
  return CEREMONY_STEPS.map((name) => ({ name, state: 'Pending' as const }));
}

export function stepState(status: KeyCeremonyStatus, name: StepName): StepState {
  return status.steps?.find((s) => s.name === name)?.state ?? 'Pending';
}

/** The steps with one of them moved to `state`; start and end times follow, and the transcript entry if given. */
export function withStep(
  status: KeyCeremonyStatus,
  name: StepName,
  state: StepState,
  nowMs: number,
  transcriptSeq?: number,
): Step[] {
  const now = formatTime(nowMs);
  return (status.steps ?? initialSteps()).map((step) => {
    if (step.name !== name) return step;
    const ended = state === 'Done' || state === 'Failed' || state === 'Skipped';
    return {
      ...step,
      state,
      ...(state === 'Running' || (ended && !step.startedTime)
        ? { startedTime: step.startedTime ?? now }
        : {}),
      ...(ended ? { completedTime: now } : {}),
      ...(transcriptSeq === undefined ? {} : { transcriptSeq }),
    };
  });
}
