export { authFromEnv, type DicomwebAuth } from './auth.js';
export { DicomwebClient, jsonValue, type DicomJson, type DicomwebClientOptions, type StoreResult } from './client.js';
export { DicomwebError, redactUrl } from './errors.js';
export { retrieveSeries, type RetrieveOptions } from './retrieve.js';
export { isDicomwebUrl, parseSeriesUrl, type SeriesUrl } from './series-url.js';
export { searchStudies, type StudySummary, type SeriesSummary, type SearchQuery } from './search.js';
