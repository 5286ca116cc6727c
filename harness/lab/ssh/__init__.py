"""The simulated SSH server (paramiko in server mode): the server, one connection's interface,
a channel's command session, SFTP and keys."""
