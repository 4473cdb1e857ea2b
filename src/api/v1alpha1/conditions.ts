// Condition types and reasons that Keyward sets. Reasons are CamelCase identifiers that tools can match on; the
// message beside each reason is written for a person.

export const ConditionType = {
  Ready: 'Ready',
  BackendReady: 'BackendReady',
  Distributed: 'Distributed',
  Rotating: 'Rotating',
  QuorumReached: 'QuorumReached',
  Witnessed: 'Witnessed',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];
