// Starter for __EXERCISE__: a server that answers GET /health. Build the rest from README.md.
package main

import (
	"encoding/json"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	// The database is at os.Getenv("DATABASE_URL").
	http.ListenAndServe("0.0.0.0:"+port, nil)
}
