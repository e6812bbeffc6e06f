package dev.wxlogin.spring.admin;

import java.util.List;

/**
 * RFC 7662's answer: {@code active} is false for a bad, expired or revoked token, and then
 * every other field is null.
 */
public record Introspection(
        boolean active,
        String sub,
        String aud,
        String sid,
        String iss,
        Long iat,
        Long exp,
        List<String> roles,
        String tokenType) {}
