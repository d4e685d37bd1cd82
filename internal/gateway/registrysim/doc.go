// Package registrysim simulates three authentic sources of Belgium's Federal Service
// Platform, for the API gateway's demo and tests, on one HTTPS server (`socle sim registry`):
//
//   - the population register, REST/JSON under /population/ (persons by national register
//     number, search, address, household), described by an OpenAPI 3.1 document at
//     /population/openapi.yaml;
//   - the civil-status register, SOAP 1.1 and 1.2 document/literal at /civil-status (birth and
//     marriage certificates, civil-status events), described by a WSDL at /civil-status?wsdl
//     whose addresses are the ones the client used, a gateway's included;
//   - the central file of driving licences of the FPS Mobility and Transport, REST/JSON under
//     /driving-licences/ (a person's licence by national register number: card number, dates,
//     issuing municipality, categories of Directive 2006/126/EC with their dates and
//     restriction codes), described by an OpenAPI 3.1 document at
//     /driving-licences/openapi.yaml.
//
// The population is fake and deterministic: the same seed gives the same persons, with
// valid national register numbers, Belgian names of the three language communities, and
// addresses in real municipalities with their postal and NIS codes. Whatever the seed, it
// begins with five fixed demo persons:
//
//	NRN              name                    born                  lives                          civil status
//	85.03.14-124.01  Sophie Marie Lambert    1985-03-14, Namur     Rue de Fer 25, 5000 Namur      married to Thomas Renard (2012-06-16, Namur)
//	83.11.02-037.74  Thomas Renard           1983-11-02, Liège     Rue de Fer 25, 5000 Namur      married to Sophie Lambert
//	15.09.08-062.08  Emma Louise Renard      2015-09-08, Namur     Rue de Fer 25, 5000 Namur      single, daughter of Thomas and Sophie
//	92.07.21-218.66  Lotte Peeters           1992-07-21, Gent      Veldstraat 10 bus 3, 9000 Gent single (Dutch-speaking)
//	01.02.09-153.29  Jonas Peter Schmitz     2001-02-09, Eupen     Gospertstraße 12, 4700 Eupen   single (German-speaking)
//
// Sophie, Thomas and Emma are one household (French-speaking); Emma and Jonas, born from
// 2000, have check digits computed with the leading 2. Sophie (AM, B; glasses, code 01.06),
// Thomas (AM, A2, A, B, BE), Lotte (AM, B; automatic gearbox, code 78) and Jonas (AM, B, C1)
// hold driving licences; Emma, a child, none. Of the other living adults, most hold one.
package registrysim
