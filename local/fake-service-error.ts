/**
 * An error a fake AWS service on loopback answers with: the HTTP status and the error code the real
 * service documents for the case. Each fake writes it in its own protocol's shape (CloudFront's REST
 * XML `<ErrorResponse>`, Rekognition's JSON `__type`), which the SDK turns into the same exception it
 * would raise against AWS.
 */
export class FakeServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
