package dev.wxlogin.spring.admin;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/**
 * A change to a user ({@code user.created}, {@code user.roles_changed}, {@code session.revoked},
 * ...). {@code data} names what changed, never a phone number, token or key. Deduplicate by
 * {@code id}: delivery is at least once.
 */
public record Event(String id, String type, Instant occurredAt, String userId, JsonNode data) {}
