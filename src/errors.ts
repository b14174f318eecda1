/**
 * An error caused by the caller's input. Its message is written for the user and is shown as is
 * (one line on the CLI, `detail` of an HTTP problem); `field` names the offending input when known.
 */
export class UserInputError extends Error {
  override readonly name = 'UserInputError';
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}
