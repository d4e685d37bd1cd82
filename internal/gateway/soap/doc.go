// Package soap is what socle's API gateway needs to front SOAP services: it reads a WSDL 1.1
// description (ParseWSDL) for the developer portal and for routing, serves it with the
// gateway's own address in place of the upstream's (RewriteAddresses), tells which operation
// a request calls (ReadRequest), answers with SOAP faults (WriteFault) and spots the faults
// of upstream responses from their first bytes (DetectFault).
//
// There is no maintained WSDL library for Go: the few that exist generate client code and
// have been left unmaintained for years. The package reads WSDL 1.1
// (https://www.w3.org/TR/2001/NOTE-wsdl-20010315) with encoding/xml, after screening it with
// xmlsafe like any outside input. It reads the SOAP 1.1 and SOAP 1.2 bindings (WSDL 1.1 §3,
// and the W3C member submission "WSDL 1.1 Binding Extension for SOAP 1.2"), and of the XML
// Schema in wsdl:types only what a portal shows: the top-level elements and named complex
// types, with their child elements one level deep. It does not follow wsdl:import or
// xs:import, and does not read WSDL 2.0.
package soap
