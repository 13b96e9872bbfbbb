// Package handler builds huzhu's Fiber application: the shared middleware (request ids, access
// logs without personal data, metrics, recovery, body limits), the one error mapper that turns
// service errors into {code, message, field, fix, request_id}, and the health endpoints. The
// sub-packages api (mini-program), wechat (official-account callback) and admin (console) add
// their routes; handlers parse, call one service method and shape the answer.
package handler
