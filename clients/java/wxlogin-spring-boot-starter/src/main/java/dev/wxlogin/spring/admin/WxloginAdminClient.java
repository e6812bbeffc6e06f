package dev.wxlogin.spring.admin;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;

/**
 * The wxlogin admin API ({@code /admin/v1}) and token introspection, typed. Each call sends
 * the admin key as {@code Authorization: Bearer}; a refusal is a {@link WxloginApiException}
 * carrying the contract's {@code error.code}; a network failure an {@link UncheckedIOException}.
 *
 * <p>java.net.http rather than RestClient, so that the client works in any app, web or not.
 */
public class WxloginAdminClient {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final URI baseUrl;
    private final String adminKey;
    private final HttpClient http;
    private final ObjectMapper json;

    public WxloginAdminClient(URI baseUrl, String adminKey) {
        this(baseUrl, adminKey, HttpClient.newBuilder().connectTimeout(TIMEOUT).build());
    }

    public WxloginAdminClient(URI baseUrl, String adminKey, HttpClient http) {
        String base = baseUrl.toString();
        this.baseUrl = URI.create(base.endsWith("/") ? base.substring(0, base.length() - 1) : base);
        this.adminKey = adminKey;
        this.http = http;
        this.json = new ObjectMapper()
                .registerModule(new JavaTimeModule())
                .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    }

    /**
     * Users whose id, openid, unionid or full phone number equals {@code query}, or whose
     * nickname starts with it (null or empty: every user), oldest first.
     */
    public UserPage searchUsers(String query, Integer limit, String cursor) {
        return send(get("/admin/v1/users" + queryString(Map.of("q", nz(query), "limit", nz(limit), "cursor", nz(cursor)))),
                UserPage.class);
    }

    /** One user with its sessions; {@code not_found} for an unknown id. */
    public AdminUser getUser(String userId) {
        return send(get("/admin/v1/users/" + segment(userId)), AdminUser.class);
    }

    /** Replaces the user's roles; tokens issued from now on (a refresh, a login) carry them. */
    public AdminUser putRoles(String userId, List<String> roles) {
        HttpRequest request = builder("/admin/v1/users/" + segment(userId) + "/roles")
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(write(Map.of("roles", roles))))
                .build();
        return send(request, AdminUser.class);
    }

    /** Ends every session of the user at once. */
    public void revokeSessions(String userId) {
        send(builder("/admin/v1/users/" + segment(userId) + "/revoke")
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(), null);
    }

    /** Deletes the account (the person's next login makes a new user). */
    public void deleteUser(String userId) {
        send(builder("/admin/v1/users/" + segment(userId)).DELETE().build(), null);
    }

    /** Events after the cursor {@code after} (null: from the first), oldest first. */
    public EventPage events(String after, Integer limit) {
        return send(get("/admin/v1/events" + queryString(Map.of("after", nz(after), "limit", nz(limit)))),
                EventPage.class);
    }

    /** {@code POST /v1/introspect}: whether the token is valid and its session live. */
    public Introspection introspect(String token) {
        HttpRequest request = builder("/v1/introspect")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("token=" + URLEncoder.encode(token, StandardCharsets.UTF_8)))
                .build();
        return send(request, Introspection.class);
    }

    private HttpRequest get(String pathAndQuery) {
        return builder(pathAndQuery).GET().build();
    }

    private HttpRequest.Builder builder(String pathAndQuery) {
        return HttpRequest.newBuilder(URI.create(baseUrl + pathAndQuery))
                .timeout(TIMEOUT)
                .header("Authorization", "Bearer " + adminKey)
                .header("Accept", "application/json");
    }

    private <T> T send(HttpRequest request, Class<T> type) {
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(request.method() + " " + request.uri().getPath() + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UncheckedIOException(new InterruptedIOException("interrupted"));
        }
        int status = response.statusCode();
        if (status < 200 || status >= 300) {
            throw refusal(status, response.body());
        }
        if (type == null) {
            return null;
        }
        try {
            return json.readValue(response.body(), type);
        } catch (IOException e) {
            throw new WxloginApiException(status, "unexpected_response", "the answer is not a " + type.getSimpleName());
        }
    }

    private WxloginApiException refusal(int status, String body) {
        try {
            JsonNode error = json.readTree(body).path("error");
            if (error.path("code").isTextual()) {
                return new WxloginApiException(status, error.path("code").asText(), error.path("message").asText(""));
            }
        } catch (IOException ignored) {
            // not the contract's shape: reported below
        }
        return new WxloginApiException(status, "unexpected_response", "HTTP " + status);
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static String nz(Object value) {
        return value == null ? "" : value.toString();
    }

    private static String segment(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String queryString(Map<String, String> params) {
        StringJoiner query = new StringJoiner("&", "?", "").setEmptyValue("");
        params.entrySet().stream()
                .filter(e -> !e.getValue().isEmpty())
                .sorted(Map.Entry.comparingByKey())
                .forEach(e -> query.add(e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8)));
        return query.toString();
    }
}
