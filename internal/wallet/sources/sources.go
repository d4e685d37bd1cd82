// Package sources is how the wallet reads a citizen's records from the authentic sources: the
// population register and the central file of driving licences (REST), and the civil-status
// register (SOAP), all through the API gateway's published APIs, as any consumer of the service platform does — with the wallet's
// own consumer key, never by reaching the registers directly. The wallet imports nothing of
// the gateway: the contract is the published APIs (docs/gateway.md).
package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls the sources through the gateway.
type Client struct {
	// Base is the gateway's address: https://host:port (the APIs are at /apis/NAME/).
	Base string
	// Key is the wallet's consumer key at the gateway.
	Key string
	// Population, CivilStatus and DrivingLicences are the APIs' names on the gateway.
	Population, CivilStatus, DrivingLicences string
	HTTP                                     *http.Client
}

// maxAnswer bounds what a source may answer: a record is a few kilobytes.
const maxAnswer = 1 << 20

// ErrNotFound is a national number the register does not know.
var ErrNotFound = errors.New("unknown to the register")

// Place is where something happened.
type Place struct {
	Municipality string `json:"municipality" xml:"municipality"`
	NISCode      string `json:"nisCode,omitempty" xml:"nisCode"`
	Country      string `json:"country" xml:"country"`
}

// Address is a residence.
type Address struct {
	Street       string `json:"street"`
	Number       string `json:"number"`
	Box          string `json:"box,omitempty"`
	PostalCode   string `json:"postalCode"`
	Municipality string `json:"municipality"`
	NISCode      string `json:"nisCode"`
}

// Person is a citizen as the population register holds them.
type Person struct {
	NRN          string   `json:"nrn"`
	GivenNames   []string `json:"givenNames"`
	FamilyName   string   `json:"familyName"`
	Gender       string   `json:"gender"`
	BirthDate    string   `json:"birthDate"`
	BirthPlace   Place    `json:"birthPlace"`
	Nationality  string   `json:"nationality"`
	Address      Address  `json:"address"`
	CivilStatus  string   `json:"civilStatus"`
	LanguageCode string   `json:"languageCode"`
	DateOfDeath  string   `json:"dateOfDeath,omitempty"`
}

// Named is a person named in a certificate.
type Named struct {
	NRN        string   `xml:"nrn"`
	GivenNames []string `xml:"givenName"`
	FamilyName string   `xml:"familyName"`
}

// BirthCertificate is an extract of the civil-status register.
type BirthCertificate struct {
	Named
	Gender     string `xml:"gender"`
	BirthDate  string `xml:"birthDate"`
	BirthPlace Place  `xml:"birthPlace"`
	Father     *Named `xml:"father"`
	Mother     *Named `xml:"mother"`
}

// MarriageCertificate is an extract of the civil-status register.
type MarriageCertificate struct {
	Date      string  `xml:"date"`
	Place     Place   `xml:"place"`
	Spouses   []Named `xml:"spouse"`
	EndDate   string  `xml:"endDate"`
	EndReason string  `xml:"endReason"`
}

// Person reads a citizen from the population register.
func (c *Client) Person(ctx context.Context, nrn string) (Person, error) {
	var p Person
	body, err := c.get(ctx, c.Population, "/v1/persons/"+url.PathEscape(nrn))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, fmt.Errorf("population register: %w", err)
	}
	if p.NRN != nrn {
		return p, fmt.Errorf("population register: asked for %s, answered %s", nrn, p.NRN)
	}
	return p, nil
}

// get reads a resource of a REST API of the gateway.
func (c *Client) get(ctx context.Context, api, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/apis/"+api+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	return c.do(req, api)
}

// BirthCertificate reads a citizen's birth certificate from the civil-status register.
func (c *Client) BirthCertificate(ctx context.Context, nrn string) (BirthCertificate, error) {
	var r struct {
		Certificate BirthCertificate `xml:"Body>GetBirthCertificateResponse>birthCertificate"`
	}
	err := c.soap(ctx, "GetBirthCertificate", nrn, &r)
	return r.Certificate, err
}

// MarriageCertificates reads a citizen's marriages from the civil-status register (none: an
// empty list).
func (c *Client) MarriageCertificates(ctx context.Context, nrn string) ([]MarriageCertificate, error) {
	var r struct {
		Certificates []MarriageCertificate `xml:"Body>GetMarriageCertificateResponse>marriageCertificate"`
	}
	err := c.soap(ctx, "GetMarriageCertificate", nrn, &r)
	var f *Fault
	if errors.As(err, &f) && f.Code == "NoMarriageRecord" {
		return nil, nil
	}
	return r.Certificates, err
}

// Fault is a SOAP fault the civil-status register answered.
type Fault struct {
	Code, Reason string
}

func (f *Fault) Error() string { return "civil-status register: " + f.Code + ": " + f.Reason }

// soap calls an operation of the civil-status register (SOAP 1.1, document/literal) and
// decodes its answer's envelope into out.
func (c *Client) soap(ctx context.Context, op, nrn string, out any) error {
	var env bytes.Buffer
	env.WriteString(`<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><` +
		op + ` xmlns="urn:socle:civilstatus"><nrn>`)
	xml.EscapeText(&env, []byte(nrn))
	env.WriteString(`</nrn></` + op + `></soap:Body></soap:Envelope>`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/apis/"+c.CivilStatus, &env)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:socle:civilstatus:`+op+`"`)
	body, err := c.do(req, c.CivilStatus)
	if err != nil {
		var st *statusError
		if errors.As(err, &st) && st.status == http.StatusInternalServerError {
			if f := fault(st.body); f != nil {
				if f.Code == "PersonNotFound" {
					return fmt.Errorf("%s: %w", nrn, ErrNotFound)
				}
				return f
			}
		}
		return err
	}
	if err := xml.Unmarshal(body, out); err != nil {
		return fmt.Errorf("civil-status register: %w", err)
	}
	return nil
}

// fault reads the register's fault detail, if body is a SOAP 1.1 fault.
func fault(body []byte) *Fault {
	var f struct {
		Reason string `xml:"Body>Fault>faultstring"`
		Code   string `xml:"Body>Fault>detail>civilStatusFault>code"`
	}
	if xml.Unmarshal(body, &f) != nil || f.Code == "" {
		return nil
	}
	return &Fault{Code: f.Code, Reason: f.Reason}
}

// statusError is an answer of an error status, the gateway's or the source's.
type statusError struct {
	api    string
	status int
	origin string // the gateway's X-Socle-Error-Origin
	body   []byte
}

func (e *statusError) Error() string {
	detail := strings.TrimSpace(string(e.body))
	var p struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(e.body, &p) == nil && p.Detail != "" {
		detail = p.Detail
	}
	if len(detail) > 200 {
		detail = detail[:200] + "…"
	}
	return fmt.Sprintf("%s: %d from the %s: %s", e.api, e.status, e.origin, detail)
}

// do sends req with the wallet's key and returns the answer's body, or the error it says.
func (c *Client) do(req *http.Request, api string) ([]byte, error) {
	req.Header.Set("X-API-Key", c.Key)
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", api, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", api, err)
	}
	if len(body) > maxAnswer {
		return nil, fmt.Errorf("%s: an answer of more than %d bytes", api, maxAnswer)
	}
	if res.StatusCode == http.StatusNotFound && res.Header.Get("X-Socle-Error-Origin") == "upstream" {
		return nil, fmt.Errorf("%s: %w", api, ErrNotFound)
	}
	if res.StatusCode >= 300 {
		origin := res.Header.Get("X-Socle-Error-Origin")
		if origin == "" {
			origin = "source"
		}
		return nil, &statusError{api: api, status: res.StatusCode, origin: origin, body: body}
	}
	return body, nil
}
