"""The web console proxy: noVNC's pages and a serial console page, and the websockets behind
them, relayed to a guest's VNC port or serial pty once a console token is claimed."""
