package dev.wxlogin.spring.admin;

/**
 * The server refused a call: {@code code} is the contract's {@code error.code}
 * ({@code unauthorized}, {@code forbidden}, {@code not_found}, {@code invalid_request}, ...),
 * or {@code unexpected_response} when the answer was not the contract's error shape.
 */
public class WxloginApiException extends RuntimeException {

    private final int status;
    private final String code;

    public WxloginApiException(int status, String code, String message) {
        super(status + " " + code + ": " + message);
        this.status = status;
        this.code = code;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }
}
