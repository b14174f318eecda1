import { UserInputError } from '../errors.js';

/**
 * The two ways the Hub can fail a command that is not the user's input, both said in one line as
 * input errors are (exit status 2; a problem over HTTP). Kept apart from the modules that call the
 * Hub so that code reporting them does not load the Hub client.
 */

/** What the Hub serves is unusable or hostile: a bad name, a size over a limit, a lying checksum. */
export class HubContentError extends UserInputError {}

/** The Hub could not be reached, or answered with an error that retrying did not cure. */
export class HubUnavailableError extends UserInputError {}
