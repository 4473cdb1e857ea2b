/** Why something cannot go on: a CamelCase reason for conditions and a message for people. */
export interface Finding {
  readonly reason: string;
  readonly message: string;
}
