package mcpserver

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/paddockhq/paddock/internal/sandbox"
)

// PortsInput are the arguments of sandbox_ports.
type PortsInput struct {
	Sandbox string   `json:"sandbox" jsonschema:"the sandbox's name or ID"`
	Action  string   `json:"action" jsonschema:"list, publish or unpublish"`
	Ports   []string `json:"ports,omitempty" jsonschema:"for publish and unpublish: [HOSTADDR:]HOSTPORT[:PORT] each, as paddock run -p takes them (the host side on 127.0.0.1 unless HOSTADDR says otherwise)"`
}

// PortsResult is a sandbox's published ports after the call.
type PortsResult struct {
	Sandbox string         `json:"sandbox"`
	Ports   []sandbox.Port `json:"ports"`
}

func registerPorts(srv *mcp.Server, s *server) {
	yes, no := true, false
	addTool(srv, &mcp.Tool{Name: "sandbox_ports", Title: "List, publish or unpublish a sandbox's ports",
		Description: `List a sandbox's published ports, or publish or unpublish some, as paddock port does: a
published port is a listener on the host whose connections reach that port on the sandbox's
loopback (the sandbox gets no network interface). Changes take effect at once on a running
sandbox and are kept for its next starts; a host port in use is an error.`,
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, OpenWorldHint: &no}}, s.ports, nil)
}

func (s *server) ports(ctx context.Context, in PortsInput) (PortsResult, *mcp.CallToolResult, error) {
	var ports []sandbox.Port
	switch in.Action {
	case "list":
	case "publish", "unpublish":
		if len(in.Ports) == 0 {
			return PortsResult{}, nil, fmt.Errorf("%w: %s: give ports", sandbox.ErrBadInput, in.Action)
		}
		for _, p := range in.Ports {
			port, err := sandbox.ParsePort(p)
			if err != nil {
				return PortsResult{}, nil, err
			}
			ports = append(ports, port)
		}
	default:
		return PortsResult{}, nil, fmt.Errorf("%w: action %q: give list, publish or unpublish", sandbox.ErrBadInput, in.Action)
	}
	m, rec, _, err := s.resolve(in.Sandbox)
	if err != nil {
		return PortsResult{}, nil, err
	}
	switch in.Action {
	case "publish":
		err = m.Publish(ctx, rec, ports...)
	case "unpublish":
		err = m.Unpublish(ctx, rec, ports...)
	}
	if err != nil {
		return PortsResult{}, nil, err
	}
	out := rec.Spec.Ports
	if out == nil {
		out = []sandbox.Port{}
	}
	return PortsResult{Sandbox: rec.Name, Ports: out}, nil, nil
}
