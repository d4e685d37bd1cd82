// Package config is socle's one table of settings: each option has a flag name, an
// environment variable (SOCLE_ + the name in upper snake case), a default, a usage line, and
// whether it is a secret. Values come from the default, then the environment, then flags.
// Secrets may also be read from a file named by SOCLE_<NAME>_FILE, and are redacted in every
// dump.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Option is one row of the table.
type Option struct {
	Name    string
	Default string
	Usage   string
	Secret  bool
	// Kind names the value in -h: duration, int, addr, list...
	Kind   string
	set    func(string) error
	isBool bool
	value  string
	source string
}

// Env is the environment variable that sets the option.
func (o *Option) Env() string { return EnvName(o.Name) }

// EnvName maps a flag name to its environment variable: data-dir → SOCLE_DATA_DIR.
func EnvName(name string) string {
	return "SOCLE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Set is a table of options bound to the variables they fill.
type Set struct {
	opts   []*Option
	byName map[string]*Option
	checks []func() error
}

// New returns an empty table.
func New() *Set { return &Set{byName: map[string]*Option{}} }

func (s *Set) add(kind, name, def, usage string, secret bool, set func(string) error) {
	if _, dup := s.byName[name]; dup {
		panic("config: option registered twice: " + name)
	}
	o := &Option{Name: name, Default: def, Usage: usage, Secret: secret, Kind: kind, set: set, source: "default"}
	s.opts = append(s.opts, o)
	s.byName[name] = o
	if err := o.set(def); err != nil {
		panic(fmt.Sprintf("config: default of %s: %v", name, err))
	}
	o.value = def
}

// String adds a string option.
func (s *Set) String(p *string, name, def, usage string) {
	s.add("string", name, def, usage, false, func(v string) error { *p = v; return nil })
}

// Secret adds a string option whose value is never printed.
func (s *Set) Secret(p *string, name, usage string) {
	s.add("secret", name, "", usage, true, func(v string) error { *p = v; return nil })
}

// Addr adds a listen address option (host:port, host may be empty).
func (s *Set) Addr(p *string, name, def, usage string) {
	s.add("addr", name, def, usage, false, func(v string) error {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return fmt.Errorf("want host:port, such as :8080 or 127.0.0.1:8080")
		}
		*p = v
		return nil
	})
}

// Duration adds a duration option (Go syntax: 90s, 10m, 24h).
func (s *Set) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	s.add("duration", name, formatDuration(def), usage, false, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a positive duration such as 90s, 10m or 24h")
		}
		*p = d
		return nil
	})
}

// Int adds an integer option with an inclusive range.
func (s *Set) Int(p *int, name string, def, min, max int, usage string) {
	s.add("int", name, strconv.Itoa(def), usage, false, func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			return fmt.Errorf("want an integer from %d to %d", min, max)
		}
		*p = n
		return nil
	})
}

// Bool adds a true/false option.
func (s *Set) Bool(p *bool, name string, def bool, usage string) {
	s.add("bool", name, strconv.FormatBool(def), usage, false, func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		*p = b
		return nil
	})
	s.opts[len(s.opts)-1].isBool = true
}

// Enum adds an option that takes one of a few words.
func (s *Set) Enum(p *string, name, def string, allowed []string, usage string) {
	s.add("word", name, def, usage+" ("+strings.Join(allowed, ", ")+")", false, func(v string) error {
		for _, a := range allowed {
			if v == a {
				*p = v
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
	})
}

// List adds a comma-separated list option.
func (s *Set) List(p *[]string, name, def, usage string) {
	s.add("list", name, def, usage, false, func(v string) error {
		*p = nil
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				*p = append(*p, f)
			}
		}
		return nil
	})
}

// Check adds a cross-field rule run by Load after every value is in.
func (s *Set) Check(fn func() error) { s.checks = append(s.checks, fn) }

// Bind registers every option as a flag of fs. Its usage carries the default and the
// environment variable; its value says its kind (flagValue.Kind), for -h.
func (s *Set) Bind(fs *flag.FlagSet) {
	for _, o := range s.opts {
		usage := o.Usage
		if o.Default != "" && !o.Secret && !(o.isBool && o.Default == "false") {
			usage += " (default " + o.Default + ")"
		}
		fs.Var(&flagValue{o}, o.Name, usage+" ["+o.Env()+"]")
	}
}

// flagValue is an option as a flag.
type flagValue struct{ o *Option }

func (v *flagValue) String() string {
	if v == nil || v.o == nil || v.o.Secret {
		return ""
	}
	return v.o.value
}

func (v *flagValue) Set(s string) error {
	if err := v.o.set(s); err != nil {
		return err
	}
	v.o.value, v.o.source = s, "flag"
	return nil
}

// IsBoolFlag lets a boolean option be given as -name alone.
func (v *flagValue) IsBoolFlag() bool { return v.o.isBool }

// Kind names the value in -h: string, duration, int, addr, list, word, secret.
func (v *flagValue) Kind() string { return v.o.Kind }

// LoadEnv applies the environment (SOCLE_X, and SOCLE_X_FILE for secrets). Call it before
// parsing flags, so that flags win.
func (s *Set) LoadEnv(getenv func(string) string) error {
	var errs []error
	for _, o := range s.opts {
		v, src := getenv(o.Env()), "env"
		if f := getenv(o.Env() + "_FILE"); f != "" && o.Secret {
			b, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", o.Env(), err))
				continue
			}
			v, src = strings.TrimSpace(string(b)), "file"
		}
		if v == "" {
			continue
		}
		if err := o.set(v); err != nil {
			shown := v
			if o.Secret {
				shown = "(redacted)"
			}
			errs = append(errs, fmt.Errorf("%s=%s: %w", o.Env(), shown, err))
			continue
		}
		o.value, o.source = v, src
	}
	return errors.Join(errs...)
}

// Validate runs the cross-field checks.
func (s *Set) Validate() error {
	var errs []error
	for _, c := range s.checks {
		if err := c(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Dump writes the table with current values, secrets redacted.
func (s *Set) Dump(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tVALUE\tSOURCE")
	opts := append([]*Option(nil), s.opts...)
	sort.Slice(opts, func(i, j int) bool { return opts[i].Name < opts[j].Name })
	for _, o := range opts {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Env(), o.Display(), o.source)
	}
	tw.Flush()
}

// Display is the value as it may be shown: secrets are redacted.
func (o *Option) Display() string {
	if o.Secret && o.value != "" {
		return "(redacted)"
	}
	return o.value
}

// Options returns the rows in registration order.
func (s *Set) Options() []*Option { return s.opts }

func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
