// Package gateway is socle's API gateway and service platform: public bodies publish REST and
// SOAP services once, at /apis/NAME/, and organisations' applications consume them with a
// key, a JWT or a client certificate, within their plan's quota; every call is recorded for
// the analytics of the developer portal (/portal/).
package gateway
