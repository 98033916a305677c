// Package deploy holds deployment assets (the Grafana dashboard) and their checks.
package deploy
