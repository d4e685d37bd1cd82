package soap

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"socle/internal/platform/xmlsafe"
)

const tns = "urn:socle:test:attestations"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func attestations(t testing.TB) *Description {
	t.Helper()
	d, err := ParseWSDL(readFile(t, "attestations.wsdl"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAWSDLTellsItsServicesPortsAndBindings(t *testing.T) {
	d := attestations(t)
	if d.TargetNamespace != tns || d.Documentation != "Certificates of residence, issued to the town halls." {
		t.Errorf("namespace %q, documentation %q", d.TargetNamespace, d.Documentation)
	}
	if len(d.Services) != 1 || d.Services[0].Name != "Attestations" || len(d.Services[0].Ports) != 2 {
		t.Fatalf("services: %+v", d.Services)
	}
	want := []Port{
		{Name: "Soap11", Binding: "AttestationsSoap11", Version: V11, Location: "http://attestations.internal:8080/ws?v=1&x=2"},
		{Name: "Soap12", Binding: "AttestationsSoap12", Version: V12, Location: "http://attestations.internal:8080/ws12"},
	}
	for i, p := range d.Services[0].Ports {
		if p != want[i] {
			t.Errorf("port %d: %+v, want %+v", i, p, want[i])
		}
	}
	wantB := []Binding{
		{Name: "AttestationsSoap11", PortType: "AttestationsPort", Version: V11, Style: "document", Transport: HTTPTransport},
		{Name: "AttestationsSoap12", PortType: "AttestationsPort", Version: V12, Style: "document", Transport: HTTPTransport},
	}
	if len(d.Bindings) != 2 || d.Bindings[0] != wantB[0] || d.Bindings[1] != wantB[1] {
		t.Errorf("bindings: %+v", d.Bindings)
	}
}

func TestAnOperationHasItsDocumentationActionsMessagesAndFaults(t *testing.T) {
	d := attestations(t)
	if len(d.Operations) != 2 {
		t.Fatalf("%d operations", len(d.Operations))
	}
	issue := d.Operation("Issue")
	if issue == nil || issue.Documentation != "Issues a certificate of residence, or refuses it." || issue.PortType != "AttestationsPort" {
		t.Fatalf("Issue: %+v", issue)
	}
	if b, _ := issue.Binding(V11); b.Action != tns+"#Issue" || b.Use != "literal" || b.Style != "document" {
		t.Errorf("SOAP 1.1 binding: %+v", b)
	}
	if b, _ := issue.Binding(V12); b.Action != tns+"#Issue12" {
		t.Errorf("SOAP 1.2 binding: %+v", b)
	}
	if issue.Input == nil || issue.Input.Name != "IssueInput" ||
		issue.Input.Parts[0] != (Part{Name: "body", Element: QName{Space: tns, Local: "IssueRequest"}}) {
		t.Errorf("input: %+v", issue.Input)
	}
	if issue.Output == nil || issue.Output.Parts[0].Element.Local != "IssueResponse" {
		t.Errorf("output: %+v", issue.Output)
	}
	if len(issue.Faults) != 1 || issue.Faults[0].Name != "Refused" || issue.Faults[0].Parts[0].Element.Local != "Refusal" {
		t.Errorf("faults: %+v", issue.Faults)
	}
	revoke := d.Operation("Revoke")
	if revoke.Output != nil {
		t.Errorf("Revoke is one-way, has output %+v", revoke.Output)
	}
	if b, ok := revoke.Binding(V12); !ok || b.Action != "" {
		t.Errorf("Revoke's SOAP 1.2 binding sets no action: %+v", b)
	}
}

// A portal shows an operation's input as fields: the element's own, or its named type's.
func TestTheSchemaGivesEachMessageItsFields(t *testing.T) {
	d := attestations(t)
	in, ok := d.Element(QName{Space: tns, Local: "IssueRequest"})
	if !ok || in.Documentation != "Who asks for a certificate." {
		t.Fatalf("IssueRequest: %+v", in)
	}
	fs := d.FieldsOf(in)
	want := []Element{
		{Name: QName{Space: tns, Local: "Person"}, Type: QName{Space: tns, Local: "Person"}, Documentation: "The resident.", MinOccurs: 1, MaxOccurs: 1},
		{Name: QName{Space: tns, Local: "Town"}, Type: QName{Space: NSXS, Local: "string"}, MinOccurs: 0, MaxOccurs: 1},
		{Name: QName{Space: tns, Local: "Purpose"}, Type: QName{Space: NSXS, Local: "string"}, MinOccurs: 0, MaxOccurs: Unbounded},
	}
	if len(fs) != len(want) {
		t.Fatalf("fields: %+v", fs)
	}
	for i := range want {
		if fs[i].Name != want[i].Name || fs[i].Type != want[i].Type || fs[i].Documentation != want[i].Documentation ||
			fs[i].MinOccurs != want[i].MinOccurs || fs[i].MaxOccurs != want[i].MaxOccurs {
			t.Errorf("field %d: %+v, want %+v", i, fs[i], want[i])
		}
	}
	person := d.FieldsOf(fs[0])
	if len(person) != 3 || person[1].Name.Local != "GivenNames" || person[1].MaxOccurs != 3 {
		t.Errorf("Person's fields: %+v", person)
	}
	out, _ := d.Element(QName{Space: tns, Local: "IssueResponse"})
	if fs := d.FieldsOf(out); len(fs) != 2 || fs[1].Name.Local != "IssuedAt" {
		t.Errorf("IssueResponse's fields (type Certificate): %+v", fs)
	}
	if len(d.Types) != 2 || d.Types[0].Documentation != "A person as the civil register knows them." {
		t.Errorf("types: %+v", d.Types)
	}
}

func TestAMalformedWSDLIsRefused(t *testing.T) {
	_, err := ParseWSDL(readFile(t, "malformed.wsdl"))
	if !errors.Is(err, ErrWSDL) || !strings.Contains(err.Error(), "porttype") {
		t.Errorf("got %v", err)
	}
}

func TestAWSDLDeclaringEntitiesIsRefusedByTheScreen(t *testing.T) {
	_, err := ParseWSDL(readFile(t, "doctype.wsdl"))
	if !errors.Is(err, ErrWSDL) || !errors.Is(err, xmlsafe.ErrUnsafe) {
		t.Errorf("got %v", err)
	}
}

// Each refusal names what is wrong.
func TestBrokenReferencesAreRefusedByName(t *testing.T) {
	doc := string(readFile(t, "attestations.wsdl"))
	for _, tc := range []struct{ from, to, want string }{
		{`binding="tns:AttestationsSoap11"`, `binding="tns:Nowhere"`, `binding "Nowhere"`},
		{`type="tns:AttestationsPort">` + "\n    <soap:binding", `type="tns:Elsewhere">` + "\n    <soap:binding", `portType "Elsewhere"`},
		{`message="tns:IssueOutput"`, `message="tns:Lost"`, `message "Lost"`},
		{`message="tns:IssueOutput"`, `message="other:IssueOutput"`, `prefix "other" is not declared`},
		{`message="tns:IssueOutput"`, `message="xs:IssueOutput"`, `outside the target namespace`},
		{`<wsdl:part name="body" element="tns:IssueResponse"/>`, `<wsdl:part name="body"/>`, `either an element or a type`},
		{`<wsdl:operation name="Revoke">` + "\n      <wsdl:input><soap12", `<wsdl:operation name="Cancel">` + "\n      <wsdl:input><soap12", `operation "Cancel"`},
		{`maxOccurs="unbounded"`, `maxOccurs="many"`, `maxOccurs "many"`},
		{`<wsdl:definitions name="Attestations"`, `<wsdl:description name="Attestations"`, `not WSDL 1.1's`},
	} {
		changed := strings.Replace(doc, tc.from, tc.to, 1)
		if changed == doc {
			t.Fatalf("%q is not in the document", tc.from)
		}
		changed = strings.Replace(changed, `</wsdl:definitions>`, `</wsdl:`+strings.TrimPrefix(strings.Fields(tc.to)[0], "<wsdl:")+`>`, strings.Count(tc.to, "<wsdl:description"))
		_, err := ParseWSDL([]byte(changed))
		if !errors.Is(err, ErrWSDL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", tc.to, err, tc.want)
		}
	}
}

func TestWSDL20AndImportsAreRefused(t *testing.T) {
	for doc, want := range map[string]string{
		`<description xmlns="http://www.w3.org/ns/wsdl"/>`:                                                         "WSDL 2.0",
		`<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"><import location="http://x/y.wsdl"/></definitions>`: "wsdl:import",
	} {
		if _, err := ParseWSDL([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

func TestRewriteAddressesChangesOnlyTheLocations(t *testing.T) {
	doc := readFile(t, "attestations.wsdl")
	d := attestations(t)
	out, err := d.RewriteAddresses(doc, "https://api.socle.example/apis/attestations/?a=1&b=2")
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Replace(doc, []byte(`http://attestations.internal:8080/ws?v=1&amp;x=2`), []byte(`https://api.socle.example/apis/attestations/?a=1&amp;b=2`), 1)
	want = bytes.Replace(want, []byte(`http://attestations.internal:8080/ws12`), []byte(`https://api.socle.example/apis/attestations/?a=1&amp;b=2`), 1)
	if !bytes.Equal(out, want) {
		t.Errorf("rewritten:\n%s", out)
	}
	again, err := ParseWSDL(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range again.Services[0].Ports {
		if p.Location != "https://api.socle.example/apis/attestations/?a=1&b=2" {
			t.Errorf("port %s: %q", p.Name, p.Location)
		}
	}
	if _, err := d.RewriteAddresses(doc, "/apis/attestations/"); err == nil {
		t.Error("a relative address was accepted")
	}
}
