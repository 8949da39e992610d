// The Go kit contender: the stringsvc example from Go kit's own tutorial
// (transport/http with JSON), serving the same routes and bodies as kit's
// example so the same load hits both.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"strings"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
)

type StringService interface {
	Uppercase(string) (string, error)
	Count(string) int
}

type stringService struct{}

var ErrEmpty = errors.New("empty string")

func (stringService) Uppercase(s string) (string, error) {
	if s == "" {
		return "", ErrEmpty
	}
	return strings.ToUpper(s), nil
}

func (stringService) Count(s string) int { return len(s) }

type request struct {
	S string `json:"s"`
}

func makeUppercaseEndpoint(svc StringService) endpoint.Endpoint {
	return func(_ context.Context, r interface{}) (interface{}, error) {
		return svc.Uppercase(r.(request).S)
	}
}

func makeCountEndpoint(svc StringService) endpoint.Endpoint {
	return func(_ context.Context, r interface{}) (interface{}, error) {
		return svc.Count(r.(request).S), nil
	}
}

func decode(_ context.Context, r *http.Request) (interface{}, error) {
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, err
	}
	return req, nil
}

func encode(_ context.Context, w http.ResponseWriter, response interface{}) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(response)
}

func main() {
	addr := flag.String("http-addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	svc := stringService{}
	http.Handle("/uppercase", httptransport.NewServer(makeUppercaseEndpoint(svc), decode, encode))
	http.Handle("/count", httptransport.NewServer(makeCountEndpoint(svc), decode, encode))
	log.Printf("listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
