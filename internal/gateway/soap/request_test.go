package soap

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	issue11 = `<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Header><t:Trace xmlns:t="urn:trace"><t:Id>1</t:Id></t:Trace></s:Header>
  <s:Body><a:IssueRequest xmlns:a="urn:socle:test:attestations"><a:Town>Lyon</a:Town></a:IssueRequest></s:Body>
</s:Envelope>`
	revoke12 = `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>` +
		`<RevokeRequest xmlns="urn:socle:test:attestations"><Number>A-1</Number></RevokeRequest></env:Body></env:Envelope>`
)

func post(contentType, action, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/apis/attestations/", strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	if action != "-" {
		r.Header.Set("SOAPAction", action)
	}
	return r
}

func TestASOAP11RequestIsRoutedByItsSOAPAction(t *testing.T) {
	req, err := ReadRequest(post("text/xml; charset=utf-8", `"urn:socle:test:attestations#Issue"`, issue11), []byte(issue11), attestations(t))
	if err != nil {
		t.Fatal(err)
	}
	if req.Version != V11 || req.Action != tns+"#Issue" || req.Body != (QName{Space: tns, Local: "IssueRequest"}) ||
		req.Operation == nil || req.Operation.Name != "Issue" {
		t.Errorf("%+v", req)
	}
}

func TestASOAP12RequestIsRoutedByItsActionParameter(t *testing.T) {
	body := strings.Replace(issue11, "http://schemas.xmlsoap.org/soap/envelope/", NSEnv12, 1)
	ct := `application/soap+xml; charset=utf-8; action="urn:socle:test:attestations#Issue12"`
	req, err := ReadRequest(post(ct, "-", body), []byte(body), attestations(t))
	if err != nil || req.Version != V12 || req.Operation.Name != "Issue" {
		t.Errorf("%+v, %v", req, err)
	}
}

// Without an action, or with the empty one of SOAP 1.1 §6.1.1, the Body's element names the
// operation.
func TestARequestWithoutActionIsRoutedByItsBody(t *testing.T) {
	d := attestations(t)
	req, err := ReadRequest(post("application/soap+xml", "-", revoke12), []byte(revoke12), d)
	if err != nil || req.Action != "" || req.Operation.Name != "Revoke" {
		t.Errorf("%+v, %v", req, err)
	}
	req, err = ReadRequest(post("text/xml", `""`, issue11), []byte(issue11), d)
	if err != nil || req.Operation.Name != "Issue" {
		t.Errorf("%+v, %v", req, err)
	}
}

func TestWithoutADescriptionARequestIsOnlyClassified(t *testing.T) {
	req, err := ReadRequest(post("application/soap+xml", "-", revoke12), []byte(revoke12), nil)
	if err != nil || req.Operation != nil || req.Body.Local != "RevokeRequest" {
		t.Errorf("%+v, %v", req, err)
	}
}

func TestRequestsThatAreNotSOAPOrNameNoOperationAreRefused(t *testing.T) {
	d := attestations(t)
	issue12 := strings.Replace(issue11, "http://schemas.xmlsoap.org/soap/envelope/", NSEnv12, 1)
	for name, tc := range map[string]struct {
		r    *http.Request
		body string
		want error
		says string
	}{
		"GET":                 {httptest.NewRequest("GET", "/", nil), "", ErrNotSOAP, "not POST"},
		"JSON":                {post("application/json", "-", `{}`), `{}`, ErrNotSOAP, "neither text/xml"},
		"bad Content-Type":    {post("text/xml; =", "-", issue11), issue11, ErrNotSOAP, "Content-Type"},
		"Latin-1":             {post("text/xml; charset=iso-8859-1", `""`, issue11), issue11, ErrNotSOAP, "charset"},
		"no SOAPAction":       {post("text/xml", "-", issue11), issue11, ErrNotSOAP, "SOAPAction"},
		"not an envelope":     {post("text/xml", `""`, `<a/>`), `<a/>`, ErrNotSOAP, "not a SOAP 1.1 Envelope"},
		"1.2 sent as 1.1":     {post("text/xml", `""`, issue12), issue12, ErrVersionMismatch, "SOAP 1.2 envelope"},
		"1.1 sent as 1.2":     {post("application/soap+xml", "-", issue11), issue11, ErrVersionMismatch, "SOAP 1.1 envelope"},
		"empty Body":          {post("application/soap+xml", "-", `<e:Envelope xmlns:e="`+NSEnv12+`"><e:Body/></e:Envelope>`), `<e:Envelope xmlns:e="` + NSEnv12 + `"><e:Body/></e:Envelope>`, ErrNotSOAP, "Body is empty"},
		"no Body":             {post("application/soap+xml", "-", `<e:Envelope xmlns:e="`+NSEnv12+`"><e:Header/></e:Envelope>`), `<e:Envelope xmlns:e="` + NSEnv12 + `"><e:Header/></e:Envelope>`, ErrNotSOAP, "ends before"},
		"DOCTYPE":             {post("text/xml", `""`, `<!DOCTYPE x>`+issue11[21:]), `<!DOCTYPE x>` + issue11[21:], ErrNotSOAP, "declaration"},
		"unknown action":      {post("text/xml", `"urn:nothing"`, issue11), issue11, ErrUnknownOperation, `"urn:nothing"`},
		"another's action":    {post("text/xml", `"urn:socle:test:attestations#Revoke"`, issue11), issue11, ErrUnknownOperation, "expects"},
		"unknown element":     {post("application/soap+xml", "-", strings.ReplaceAll(revoke12, "RevokeRequest", "Other")), strings.ReplaceAll(revoke12, "RevokeRequest", "Other"), ErrUnknownOperation, "Other"},
		"1.2's action in 1.1": {post("text/xml", `"urn:socle:test:attestations#Issue12"`, issue11), issue11, ErrUnknownOperation, "not operation Issue's"},
	} {
		_, err := ReadRequest(tc.r, []byte(tc.body), d)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want %v saying %q", name, err, tc.want, tc.says)
		}
	}
}

func TestCodeOfAnswersAVersionMismatchAsSuch(t *testing.T) {
	if CodeOf(ErrVersionMismatch) != VersionMismatch || CodeOf(ErrUnknownOperation) != Sender {
		t.Error("wrong codes")
	}
}
