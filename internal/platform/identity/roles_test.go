package identity

import (
	"fmt"
	"regexp"
	"strings"
)

// The roles of these tests, defined as a service defines its own: identity knows none but
// admin. Their scopes are départements, as for the emergency service's PDAAU roles.
const (
	RoleEditor   = "test.editor"
	RoleApprover = "test.approver"
)

var testDepartement = regexp.MustCompile(`^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6])$`)

func testScope(s string) (string, error) {
	u := strings.ToUpper(s)
	if !testDepartement.MatchString(u) {
		return "", fmt.Errorf("scope %q is not a département code", s)
	}
	return u, nil
}

func init() {
	DefineRole(Role{Name: RoleEditor, Description: "edits a département's drafts", Scope: testScope})
	DefineRole(Role{Name: RoleApprover, Description: "approves a département's drafts", Scope: testScope})
}
