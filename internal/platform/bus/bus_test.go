package bus

import (
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"testing"
	"time"
)

func TestEmbeddedBusDeliversToSubscribers(t *testing.T) {
	b, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan string, 1)
	sub, err := b.Subscribe("socle.test", func(m *nats.Msg) { got <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	b.Flush()
	b.Publish("socle.test", []byte("réveil"))
	select {
	case s := <-got:
		if s != "réveil" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
}

func TestAnExternalNATSIsUsedWhenConfigured(t *testing.T) {
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	a, err := Open(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan string, 1)
	sub, _ := b.Subscribe("socle.test", func(m *nats.Msg) { got <- string(m.Data) })
	defer sub.Unsubscribe()
	b.Flush()
	a.Publish("socle.test", []byte("d'un nœud à l'autre"))
	select {
	case s := <-got:
		if s != "d'un nœud à l'autre" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message between two connections of the external server")
	}
	if _, err := Open("nats://127.0.0.1:1"); err == nil {
		t.Fatal("connected to nothing")
	}
}
