/** A failure that is an HTTP client's answer: the status and the text it reads (the renderer's, and the local console's). */
export class HttpFailure extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}
