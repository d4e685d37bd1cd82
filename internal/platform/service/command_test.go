package service

import (
	"context"
	"strings"
	"testing"
)

func TestACommandThatCannotWorkIsRefused(t *testing.T) {
	run := func(context.Context, []string, CommandEnv) error { return nil }
	leaf := Command{Name: "psap", Summary: "a PSAP", Run: run}
	for _, c := range []struct {
		cs   []Command
		want string
	}{
		{[]Command{{Name: "sim", Summary: "simulate", Subcommands: []Command{leaf}}, {Name: "apply", Summary: "apply", Run: run}}, ""},
		{[]Command{{Name: "bench", Subcommands: []Command{leaf}}}, ""}, // adds to another's group
		{[]Command{{Name: "two words", Summary: "x", Run: run}}, `command "two words": a name is one word`},
		{[]Command{{Name: "-x", Summary: "x", Run: run}}, `a name is one word`},
		{[]Command{{Name: "apply", Run: run}}, `command "apply": a summary is required`},
		{[]Command{{Name: "apply", Summary: "x", Run: run}, {Name: "apply", Summary: "y", Run: run}}, `command "apply": declared twice`},
		{[]Command{{Name: "apply", Summary: "x"}}, `command "apply": either Run or Subcommands`},
		{[]Command{{Name: "sim", Summary: "x", Run: run, Subcommands: []Command{leaf}}}, `either Run or Subcommands`},
		{[]Command{{Name: "sim", Subcommands: []Command{{Name: "psap", Run: run}}}}, `command "sim psap": a subcommand needs a summary`},
		{[]Command{{Name: "sim", Subcommands: []Command{{Name: "psap", Summary: "x", Subcommands: []Command{leaf}}}}}, `command "sim psap": subcommands have no subcommands`},
	} {
		err := checkCommands(c.cs, "")
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: got %v, want %q", c.cs, err, c.want)
		}
	}
}
