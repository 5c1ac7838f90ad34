/** The Hub library's failures (HubApiError, fetch's TypeError) as HubPullErrors that say what to do. */
import { HubApiError } from "@huggingface/hub";
import { HubPullError } from "./errors.js";

export interface HubWhere {
  id: string;
  hubUrl: string;
  revision: string;
  tokenGiven: boolean;
  signal?: AbortSignal;
}

export function hubError(error: unknown, where: HubWhere, path?: string): HubPullError {
  if (error instanceof HubPullError) return error;
  const what = path ? `${where.id}: ${path}` : `${where.id} (revision ${where.revision})`;
  if (where.signal?.aborted) return new HubPullError("aborted", `pull of ${where.id} aborted`, { cause: error });
  if (error instanceof HubApiError) {
    const detail = error.message.split(". URL:")[0];
    if (error.statusCode === 401 || error.statusCode === 403) {
      return new HubPullError(
        "unauthorized",
        where.tokenGiven
          ? `${what}: the Hub refused the token (HTTP ${error.statusCode}: ${detail}); check that it has access to this model`
          : `${what}: the Hub asks for a token (HTTP ${error.statusCode}: ${detail}); a private or gated model needs HF_TOKEN or --token`,
        { cause: error },
      );
    }
    if (error.statusCode === 404) return new HubPullError("not-found", `${what}: not found on ${where.hubUrl} (${detail})`, { cause: error });
    return new HubPullError("bad-response", `${what}: the Hub answered HTTP ${error.statusCode} (${detail})`, { cause: error });
  }
  const err = error as Error & { cause?: Error & { code?: string } };
  if (err instanceof TypeError && /fetch failed/.test(err.message)) {
    return new HubPullError("network", `cannot reach the Hub at ${where.hubUrl} (${err.cause?.code ?? err.cause?.message ?? err.message}); use --offline to serve what is cached`, { cause: error });
  }
  return new HubPullError("bad-response", `${what}: ${err.message}`, { cause: error });
}
