package wallet

import (
	"strings"
	"testing"

	"socle/internal/wallet/verifier"
)

func TestADCQLFileErrorNamesItsLine(t *testing.T) {
	for _, c := range []struct {
		file string
		want string
	}{
		{`{"credentials": [
  {"id": "pid", "format": "dc+sd-jwt",
   "meta": {"vct_values": ["urn:eudi:pid:1"]},
   "claims": [
     {"path": ["family_name"]},
     {"path": ["birthdate", -1]}
   ]}
]}`, "q.json:6: dcql: credentials[0].claims[1].path[1]"},
		{`{"credentials": [
  {"id": "pid",
   "format": "dc+sd-jwt"}
]}`, "q.json:2: dcql: credentials[0].meta"}, // missing: its parent's line
		{`{"credentials": [
  {"id": "pid",,
]}`, "q.json:2: not JSON"},
	} {
		_, err := verifier.ParseQuery([]byte(c.file))
		if err == nil {
			t.Fatalf("%s accepted", c.file)
		}
		if got := dcqlFileError("q.json", []byte(c.file), err).Error(); !strings.HasPrefix(got, c.want) {
			t.Errorf("%q, want %q...", got, c.want)
		}
	}
}
