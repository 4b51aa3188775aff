// The sidecar's Unix domain socket (serve --socket, and the extension that starts it so): Node only, not the page's.

/** The longest path a Unix domain socket may have (sockaddr_un's sun_path less its NUL: 108 on Linux, 104 on macOS). */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;
