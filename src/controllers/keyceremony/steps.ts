// The steps of a ceremony as status shows them: the seven of a root key ceremony, or those of another type.
import { CEREMONY_TYPE_STEPS } from '../../api/v1alpha1/keyceremony.ts';
import type {
  CEREMONY_STEPS,
  CEREMONY_TYPES,
  STEP_STATES,
  KeyCeremonyStatus,
} from '../../api/v1alpha1/keyceremony.ts';
import { formatTime } from '../../runtime/clock.ts';

export type StepName = (typeof CEREMONY_STEPS)[number];
export type StepState = (typeof STEP_STATES)[number];
type Step = NonNullable<KeyCeremonyStatus['steps']>[number];

export function initialSteps(type: (typeof CEREMONY_TYPES)[number]): Step[] {
  return CEREMONY_TYPE_STEPS[type].map((name) => ({ name, state: 'Pending' as const }));
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
  return (status.steps ?? []).map((step) => {
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
