/**
 * The job runner's own errors: what a caller of `JobRunner` can be told besides the library's
 * `UserInputError`. They say what happened in the runner's terms; the HTTP service maps them to
 * problem documents in one place (src/server/http/problem.ts), the CLI would to a line.
 */
export class JobError extends Error {
  override readonly name: string = 'JobError';
  constructor(
    message: string,
    /** The input at fault (`id`), when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** No job of that kind has that id. */
export class JobNotFoundError extends JobError {
  override readonly name: string = 'JobNotFoundError';
}

/** The job is not in a state that allows it: cancelling a job that has ended. */
export class JobConflictError extends JobError {
  override readonly name: string = 'JobConflictError';
}

/** The runner cannot take the job now; `retryAfterSeconds` says when to try again. */
export class JobUnavailableError extends JobError {
  override readonly name: string = 'JobUnavailableError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** A kind's queue is full: the job was refused before anything of it was stored. */
export class QueueFullError extends JobUnavailableError {
  override readonly name: string = 'QueueFullError';
}

/** The runner is shutting down and takes no new job. */
export class RunnerClosingError extends JobUnavailableError {
  override readonly name: string = 'RunnerClosingError';
}

/** A job ran past its kind's time limit and was stopped. */
export class JobTimeLimitError extends JobError {
  override readonly name: string = 'JobTimeLimitError';
}
