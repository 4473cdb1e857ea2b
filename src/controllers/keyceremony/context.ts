// What the ceremony controller's parts share within one reconcile: the ceremony as last written, its status being
// built, the transcript, and the way both are saved.
import { KeyCeremony } from '../../api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyObject, KeyCeremonyStatus } from '../../api/v1alpha1/keyceremony.ts';
import { KeyCeremonyApproval } from '../../api/v1alpha1/keyceremonyapproval.ts';
import { resourceTypeOf } from '../../kube/resource.ts';
import { setCondition, withStalled } from '../../runtime/conditions.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { updateStatus } from '../../runtime/status.ts';
import { withStep } from './steps.ts';
import type { StepName, StepState } from './steps.ts';
import type { Transcript } from './transcript-store.ts';

export const keyCeremonyType = resourceTypeOf(KeyCeremony);
export const keyApprovalType = resourceTypeOf(KeyCeremonyApproval);

export class CeremonyRun {
  #object: KeyCeremonyObject;
  readonly status: KeyCeremonyStatus;
  readonly context: ReconcileContext;
  transcript: Transcript | undefined;

  constructor(object: KeyCeremonyObject, context: ReconcileContext) {
    this.#object = object;
    this.context = context;
    this.status = structuredClone(object.status ?? {});
    this.status.observedGeneration = object.metadata.generation ?? 0;
  }

  get ceremony(): KeyCeremonyObject {
    return this.#object;
  }

  get now(): number {
    return this.context.clock.now();
  }

  condition(type: string, state: 'True' | 'False', reason: string, message: string): void {
    this.status.conditions = setCondition(
      this.status.conditions,
      { type, status: state, reason, message, observedGeneration: this.status.observedGeneration ?? 0 },
      this.now,
    );
  }

  /** Writes the status now (each step is saved as it ends, so a restart sees exactly how far the ceremony got). */
  async save(): Promise<void> {
    if (this.transcript) {
      this.status.transcript = {
        configMapName: this.transcript.name,
        entries: this.transcript.entries.length,
        headHash: this.transcript.head,
      };
    }
    const { phase } = this.status;
    this.status.conditions = withStalled(
      this.status.conditions,
      phase === 'Failed' || phase === 'Expired',
      this.now,
    );
    const updated = await updateStatus(this.context.client, keyCeremonyType, this.#object, this.status);
    if (updated) this.#object = updated;
  }

  /** Records the step in the transcript, moves it in status, emits its event, and saves. */
  async step(
    name: StepName,
    state: StepState,
    detail: Record<string, string | number | boolean | readonly string[]>,
    note: string,
  ): Promise<void> {
    const entry = await this.#requireTranscript().append(this.now, name, 'operator', { state, ...detail });
    this.status.steps = withStep(this.status, name, state, this.now, entry.seq);
    this.context.recorder.record(this.#object, {
      type: state === 'Failed' ? 'Warning' : 'Normal',
      reason: `Step${state}`,
      action: name.replace(/[^A-Za-z]/g, ''),
      note: `${name}: ${note}`,
    });
    await this.save();
  }

  /** A transcript entry that is not a step change (an approval, a share). */
  async record(
    step: string,
    actor: string,
    detail: Record<string, string | number | boolean | readonly string[]>,
  ) {
    return this.#requireTranscript().append(this.now, step, actor, detail);
  }

  #requireTranscript(): Transcript {
    if (!this.transcript) throw new Error('the ceremony has no transcript yet');
    return this.transcript;
  }
}
