import { createContext, useContext } from "react";

// The response's CSP nonce, for the components that render inline scripts. Set by
// entry.server.tsx; in the browser it is "" (browsers hide nonces from the page anyway).
export const NonceContext = createContext("");

export const useNonce = () => useContext(NonceContext);
