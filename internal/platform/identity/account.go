package identity

import (
	"html/template"
	"net/http"
	"strings"

	"socle/internal/web"
)

// The page edge shows who is signed in on every page; identity is what knows it.
func init() { web.AccountNav = AccountNav }

var accountNav = template.Must(template.New("account").Parse(
	`<nav class="account" aria-label="{{.Label}}">` +
		`{{if .User}}<span>{{.User.Name}} ({{.User.Email}})</span> ` +
		`<form method="post" action="/logout" class="inline"><button class="secondary" type="submit">{{.SignOut}}</button></form>` +
		`{{else}}<a href="/login?lang={{.Lang}}&amp;next={{.Next}}">{{.SignIn}}</a>{{end}}</nav>`))

var accountWords = map[string]map[string]string{
	"fr": {"label": "Compte", "in": "Se connecter", "out": "Se déconnecter"},
	"en": {"label": "Account", "in": "Sign in", "out": "Sign out"},
}

// AccountNav is the account part of every page's header: who is signed in and a sign-out
// button, or a sign-in link that comes back to the page.
func AccountNav(r *http.Request, lang string) template.HTML {
	w, ok := accountWords[lang]
	if !ok {
		w = accountWords["fr"]
	}
	u, _ := UserFrom(r.Context())
	var b strings.Builder
	// The values are escaped by the template, Next as a query value.
	accountNav.Execute(&b, map[string]any{"Label": w["label"], "SignIn": w["in"], "SignOut": w["out"], "User": u,
		"Lang": lang, "Next": r.URL.RequestURI()})
	return template.HTML(b.String())
}
