import type { Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Node's HTTP server answers requests it cannot parse (a bad request line, headers too large, a
 * malformed Content-Length…) itself, through 'clientError', with an empty body. This handler gives
 * those answers the API's JSON error shape too: `{"error":{"code","message"}}`, then closes the
 * connection, since the rest of what the client sent cannot be trusted.
 */
export function handleClientError(err: Error & { code?: string }, socket: Duplex): void {
  const state = socket as Duplex & { apiClientErrorAnswered?: boolean; _httpMessage?: unknown };
  // The parser may report the same broken connection again while it is being closed.
  if (state.apiClientErrorAnswered) return;
  state.apiClientErrorAnswered = true;
  // Like Node's own handler: answer only when nothing of a response was written on this socket yet.
  const inFlight = state._httpMessage as { headersSent?: boolean } | null | undefined;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, code, message] = answerFor(err.code);
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n' +
      'X-Content-Type-Options: nosniff\r\n' +
      '\r\n' +
      body,
  );
  // A client that never closes its side does not keep the socket.
  setTimeout(() => socket.destroy(), 2_000).unref();
}

function answerFor(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers_too_large', 'The request line or headers are too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'payload_too_large', 'The chunk extensions of the request body are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'The request was not received in time'];
    default:
      return [400, 'bad_request', 'The request is not valid HTTP'];
  }
}

/** Installs {@link handleClientError} on a server (the API process, or a test's server). */
export function answerClientErrorsWithJson(server: Server): Server {
  server.on('clientError', handleClientError);
  return server;
}
