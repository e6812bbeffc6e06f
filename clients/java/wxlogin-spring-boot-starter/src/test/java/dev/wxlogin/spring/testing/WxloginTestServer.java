package dev.wxlogin.spring.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real {@code wxlogin serve --sim} for the tests, on a temp SQLite file, with two mini
 * programs ({@link #APP}, {@link #OTHER_APP}) so that another app's token is a real one.
 * The issuer is the server's own URL (a port chosen before start), so discovery works.
 * The binary is {@code $WXLOGIN_BIN}, else the repository's {@code target/debug/wxlogin}.
 */
public final class WxloginTestServer implements AutoCloseable {

    public static final String APP = "wx1111111111111111";
    public static final String OTHER_APP = "wx2222222222222222";

    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SIM = Pattern.compile("simulator on (http://\\S+)");

    private final Process process;
    private final Path dir;
    private final String url;
    private final String simUrl;

    /** A login through the simulator, as a mini program does it. */
    public record Login(String accessToken, String refreshToken, String userId, String appid) {}

    private WxloginTestServer(Process process, Path dir, String url, String simUrl) {
        this.process = process;
        this.dir = dir;
        this.url = url;
        this.simUrl = simUrl;
    }

    public static String binary() {
        String fromEnv = System.getenv("WXLOGIN_BIN");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return fromEnv;
        }
        return System.getProperty("wxlogin.default-bin", "../../target/debug/wxlogin");
    }

    /** Starts a server; {@code extraArgs} are more {@code serve} flags. */
    public static WxloginTestServer start(String... extraArgs) {
        try {
            Path dir = Files.createTempDirectory("wxlogin-java-test-");
            Path config = dir.resolve("wxlogin.toml");
            Files.writeString(config, """
                    [[apps]]
                    appid = "%s"
                    secret = "11111111111111111111111111111111"
                    [[apps]]
                    appid = "%s"
                    secret = "22222222222222222222222222222222"
                    """.formatted(APP, OTHER_APP));
            int port = freePort();
            String url = "http://127.0.0.1:" + port;
            List<String> command = new ArrayList<>(List.of(binary(), "serve", "--sim",
                    "--listen", "127.0.0.1:" + port, "--issuer", url,
                    "--database-url", "sqlite://" + dir.resolve("db.sqlite"),
                    "--config", config.toString()));
            command.addAll(List.of(extraArgs));
            Process process = new ProcessBuilder(command)
                    .redirectError(dir.resolve("stderr.log").toFile())
                    .start();
            // Should the test JVM end without close() (a failed class, a runner's timeout),
            // the server must not outlive it.
            Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly));
            try {
                return new WxloginTestServer(process, dir, url, waitForStart(process, dir));
            } catch (IllegalStateException e) {
                removeDir(dir);
                throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("starting " + binary(), e);
        }
    }

    private static String waitForStart(Process process, Path dir) throws IOException {
        CompletableFuture<String> simUrl = new CompletableFuture<>();
        StringBuffer seen = new StringBuffer();
        // A thread of its own, not the common pool, that reads stdout to the end: the server
        // never blocks on a full pipe.
        Thread reader = new Thread(() -> readStdout(process, simUrl, seen));
        reader.setDaemon(true);
        reader.start();
        try {
            String sim = simUrl.get(20, TimeUnit.SECONDS);
            if (sim != null) {
                return sim;
            }
        } catch (Exception e) {
            seen.append("(").append(e).append(")");
        }
        process.destroyForcibly();
        throw new IllegalStateException("wxlogin did not start; stdout:\n" + seen + "\nstderr:\n"
                + Files.readString(dir.resolve("stderr.log")));
    }

    private static void readStdout(Process process, CompletableFuture<String> simUrl, StringBuffer seen) {
        try (BufferedReader out = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String sim = null;
            String line;
            while ((line = out.readLine()) != null) {
                if (!simUrl.isDone()) {
                    seen.append(line).append('\n');
                }
                Matcher m = SIM.matcher(line);
                if (m.find()) {
                    sim = m.group(1);
                }
                if (line.startsWith("listening on ") && sim != null) {
                    simUrl.complete(sim);
                }
            }
        } catch (IOException e) {
            seen.append("(").append(e).append(")");
        } finally {
            simUrl.complete(null);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** The server's URL, also its issuer. */
    public String url() {
        return url;
    }

    public String jwksUrl() {
        return url + "/.well-known/jwks.json";
    }

    public Login login(String appid, String user) {
        JsonNode code = post(simUrl + "/sim/login", Map.of("appid", appid, "user", user), null);
        return loginFrom(post(url + "/v1/login", Map.of("code", code.get("code").asText(), "appid", appid), null));
    }

    public Login login(String user) {
        return login(APP, user);
    }

    public Login refresh(Login login) {
        return loginFrom(post(url + "/v1/token/refresh", Map.of("refresh_token", login.refreshToken()), null));
    }

    public void logout(Login login) {
        post(url + "/v1/logout", null, login.accessToken());
    }

    /** {@code wxlogin admin-keys create} on this server's database; returns the key. */
    public String createAdminKey(String name, String scopes) {
        try {
            Process create = new ProcessBuilder(binary(), "admin-keys", "create", "--name", name,
                    "--scopes", scopes, "--database-url", "sqlite://" + dir.resolve("db.sqlite"))
                    .redirectError(dir.resolve("admin-keys.log").toFile())
                    .start();
            String out = new String(create.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (create.waitFor() != 0 || !out.startsWith("wxa_")) {
                throw new IllegalStateException("admin-keys create failed: " + Files.readString(dir.resolve("admin-keys.log")));
            }
            return out.lines().findFirst().orElseThrow();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static Login loginFrom(JsonNode answer) {
        return new Login(answer.get("access_token").asText(), answer.get("refresh_token").asText(),
                answer.get("user").get("id").asText(), answer.get("user").get("appid").asText());
    }

    private static JsonNode post(String target, Map<String, String> body, String bearer) {
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(target))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body == null ? "{}" : JSON.writeValueAsString(body)));
            if (bearer != null) {
                request.header("Authorization", "Bearer " + bearer);
            }
            HttpResponse<String> answer = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
            if (answer.statusCode() / 100 != 2) {
                throw new IllegalStateException("POST " + target + " answered " + answer.statusCode() + ": " + answer.body());
            }
            return answer.body().isEmpty() ? JSON.nullNode() : JSON.readTree(answer.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        removeDir(dir);
    }

    private static void removeDir(Path dir) {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temp dir left behind is harmless
        }
    }
}
