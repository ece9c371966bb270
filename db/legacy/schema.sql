-- The legacy feature-api-client's store, as such systems usually look (and as the cutover
-- reads it). One table of API calls; nothing masked, nothing typed, nothing deduplicated.
--
--   called_at         timestamp WITHOUT time zone: the client wrote its host's local time,
--                     which was UTC (the backfill reads it as UTC; see --legacy-tz)
--   url               the full URL with its query string; OData options sometimes
--                     percent-encoded ($filter=status%20eq%20%27Active%27), sometimes raw
--   request_headers   JSON text; older rows carry the raw API key (X-ApiKey / CCAPIKey)
--   response_*        NULL when the call died before an answer was recorded
--   response_body     text: usually JSON, sometimes truncated, sometimes an HTML error page
--   client_name       which deployment of the client made the call
-- Duplicated rows exist (a retry loop in the client logged some calls twice).

CREATE TABLE IF NOT EXISTS api_call_log (
    id               bigserial PRIMARY KEY,
    called_at        timestamp without time zone NOT NULL,
    client_name      text NOT NULL,
    method           text NOT NULL DEFAULT 'GET',
    url              text NOT NULL,
    request_headers  text,
    response_status  integer,
    response_headers text,
    response_body    text,
    duration_ms      integer
);

CREATE INDEX IF NOT EXISTS api_call_log_called_at ON api_call_log (called_at);
