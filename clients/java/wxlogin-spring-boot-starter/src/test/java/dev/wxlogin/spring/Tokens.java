package dev.wxlogin.spring;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;

/** Reading and damaging tokens in tests. */
final class Tokens {
    private Tokens() {}

    static JsonNode claims(String token) {
        try {
            return new ObjectMapper().readTree(Base64.getUrlDecoder().decode(token.split("\\.")[1]));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The same token with one signature character changed: its signature no longer holds. */
    static String flipSignature(String token) {
        int at = token.lastIndexOf('.') + 5;
        char c = token.charAt(at);
        return token.substring(0, at) + (c == 'A' ? 'B' : 'A') + token.substring(at + 1);
    }

    /** The token's payload with {@code sub} replaced, under the original signature. */
    static String withSubject(String token, String subject) {
        String[] parts = token.split("\\.");
        JsonNode claims = claims(token);
        ((com.fasterxml.jackson.databind.node.ObjectNode) claims).put("sub", subject);
        String payload = Base64.getUrlEncoder().withoutPadding().encodeToString(claims.toString().getBytes());
        return parts[0] + "." + payload + "." + parts[2];
    }
}
