package broker

import "net/http"

func (b *Broker) serveStatus(w http.ResponseWriter, r *http.Request) {}
func (b *Broker) statusPage() http.Handler                           { return http.NotFoundHandler() }
