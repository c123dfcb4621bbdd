#!/usr/bin/env python3
"""Compiles CEL the way kube-apiserver compiles admission policies.

Google's CEL checker (cel-cpp, through the PyPI package cel-expr-python)
type-checks each expression in an environment declared as Kubernetes
declares it for a ValidatingAdmissionPolicy or MutatingAdmissionPolicy of a
given minor version:

- the variables the API server binds (`object`, `oldObject`, `request`,
  `namespaceObject`, `authorizer`, `variables`, and `params` only when the
  policy has a `paramKind`); match conditions see no `variables`;
- CEL's reserved words, which the parser refuses as identifiers;
- the functions and overloads of that version's libraries (`FUNCTIONS`:
  the strings extension at version 2, and the Kubernetes list, regex, URL,
  quantity, IP, CIDR and semver libraries from the version each arrived);
- the `JSONPatch` type of mutations.

Two rules of the API server the checker has no option for are checked over
the checked AST: homogeneous aggregate literals (cel-go's
`HomogeneousAggregateLiterals`, which Kubernetes always sets: the elements
of a list literal, and the keys and values of a map literal, have one type
unless each is wrapped in `dyn()`), and `variables.<name>` naming only a
variable declared before it.

Input on stdin (JSON):
    {"expressions": [{"text", "kube", "params", "kind", "variables"}],
     "names": ["spec", ...]}
  kind: "condition" (bool), "variable" (any), "validation" (bool),
        "message" (string), "mutation" (list of JSONPatch);
  variables: the names `variables.` may read.
Output on stdout (JSON): {"expressions": [[error, ...], ...],
                          "names": [[error, ...], ...]}
"""

import json
import re
import sys

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, descriptor_pool, struct_pb2

# (since minor version, function, member target or None, args, result);
# "A" is a type parameter.
STRINGS = [
    (0, "charAt", "string", ["int"], "string"),
    (0, "indexOf", "string", ["string"], "int"),
    (0, "indexOf", "string", ["string", "int"], "int"),
    (0, "lastIndexOf", "string", ["string"], "int"),
    (0, "lastIndexOf", "string", ["string", "int"], "int"),
    (0, "lowerAscii", "string", [], "string"),
    (0, "upperAscii", "string", [], "string"),
    (0, "replace", "string", ["string", "string"], "string"),
    (0, "replace", "string", ["string", "string", "int"], "string"),
    (0, "split", "string", ["string"], "list<string>"),
    (0, "split", "string", ["string", "int"], "list<string>"),
    (0, "substring", "string", ["int"], "string"),
    (0, "substring", "string", ["int", "int"], "string"),
    (0, "trim", "string", [], "string"),
    (0, "format", "string", ["list<dyn>"], "string"),
    (0, "strings.quote", None, ["string"], "string"),
    (0, "join", "list<string>", [], "string"),
    (0, "join", "list<string>", ["string"], "string"),
]
KUBERNETES = [
    (0, "indexOf", "list<A>", ["A"], "int"),
    (0, "lastIndexOf", "list<A>", ["A"], "int"),
    (0, "isSorted", "list<A>", [], "bool"),
    (0, "sum", "list<A>", [], "A"),
    (0, "min", "list<A>", [], "A"),
    (0, "max", "list<A>", [], "A"),
    (0, "find", "string", ["string"], "string"),
    (0, "findAll", "string", ["string"], "list<string>"),
    (0, "findAll", "string", ["string", "int"], "list<string>"),
    (0, "isURL", None, ["string"], "bool"),
    (0, "url", None, ["string"], "kubernetes.URL"),
    (0, "getScheme", "kubernetes.URL", [], "string"),
    (0, "getHost", "kubernetes.URL", [], "string"),
    (0, "getHostname", "kubernetes.URL", [], "string"),
    (0, "getPort", "kubernetes.URL", [], "string"),
    (0, "getEscapedPath", "kubernetes.URL", [], "string"),
    (0, "getQuery", "kubernetes.URL", [], "map<string, list<string>>"),
    (29, "isQuantity", None, ["string"], "bool"),
    (29, "quantity", None, ["string"], "kubernetes.Quantity"),
    (31, "isIP", None, ["string"], "bool"),
    (31, "ip", None, ["string"], "net.IP"),
    (31, "isCIDR", None, ["string"], "bool"),
    (31, "cidr", None, ["string"], "net.CIDR"),
    (34, "isSemver", None, ["string"], "bool"),
    (34, "semver", None, ["string"], "kubernetes.Semver"),
]
FUNCTIONS = STRINGS + KUBERNETES

RETURNS = {
    "condition": {"BOOL", "DYN"},
    "validation": {"BOOL", "DYN"},
    "message": {"STRING", "DYN"},
    "mutation": {"LIST<JSONPatch>", "DYN"},
}


def type_decl(signature):
    """A type as the environment config writes it."""
    m = re.fullmatch(r"(\w+)<(.*)>", signature)
    if not m:
        if signature == "A":
            return {"type_name": "A", "is_type_param": True}
        return {"type_name": signature}
    params, depth, start = [], 0, 0
    inner = m.group(2)
    for i, c in enumerate(inner):
        depth += c == "<"
        depth -= c == ">"
        if c == "," and depth == 0:
            params.append(inner[start:i].strip())
            start = i + 1
    params.append(inner[start:].strip())
    return {"type_name": m.group(1), "params": [type_decl(p) for p in params]}


def config(kube, params, kind):
    variables = ["object", "oldObject", "request", "namespaceObject", "authorizer"]
    if kind != "condition":
        variables.append("variables")
    if params and kind != "condition":
        variables.append("params")
    functions = {}
    for n, (since, name, target, args, result) in enumerate(FUNCTIONS):
        if since > kube:
            continue
        overload = {"id": f"{name}_{n}", "args": [type_decl(a) for a in args],
                    "return": type_decl(result)}
        if target:
            overload["target"] = type_decl(target)
        functions.setdefault(name, []).append(overload)
    doc = {
        "name": f"kubernetes-1.{kube}",
        "extensions": [{"name": "optional"}],
        "variables": [
            {"name": v, "type_name": "map", "params": [{"type_name": "string"}, {"type_name": "dyn"}]}
            if v == "variables" else {"name": v, "type_name": "dyn"}
            for v in variables
        ],
        "functions": [{"name": k, "overloads": v} for k, v in functions.items()],
    }
    return cel.NewEnvConfigFromYaml(json.dumps(doc))


def json_patch_types():
    pool = descriptor_pool.DescriptorPool()
    struct = descriptor_pb2.FileDescriptorProto()
    struct_pb2.DESCRIPTOR.CopyToProto(struct)
    pool.Add(struct)
    patch = descriptor_pb2.FileDescriptorProto(
        name="kubernetes/jsonpatch.proto", syntax="proto3",
        dependency=["google/protobuf/struct.proto"])
    message = patch.message_type.add(name="JSONPatch")
    string = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    for number, name in enumerate(["op", "path", "from"], 1):
        message.field.add(name=name, number=number, type=string, label=1)
    message.field.add(name="value", number=4, label=1,
                      type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                      type_name=".google.protobuf.Value")
    pool.Add(patch)
    return pool


ENVS = {}


def env(kube, params, kind):
    key = (kube, params, kind)
    if key not in ENVS:
        pool = json_patch_types() if kind == "mutation" else None
        ENVS[key] = cel.NewEnv(descriptor_pool=pool, config=config(kube, params, kind))
    return ENVS[key]


# --- protobuf wire format, for the checked AST (cel.expr.CheckedExpr) ---

def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def fields(buf):
    """(field number, value) pairs: ints for varints, bytes otherwise."""
    i, out = 0, []
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 2:
            size, i = varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.append((number, value))
    return out


def first(buf, number, default=None):
    return next((v for n, v in fields(buf) if n == number), default)


PRIMITIVES = {1: "bool", 2: "int", 3: "uint", 4: "double", 5: "string", 6: "bytes"}


def type_name(t):
    """A checked type as cel-go prints it."""
    for n, v in fields(t):
        if n == 1:
            return "dyn"
        if n == 2:
            return "null_type"
        if n == 3:
            return PRIMITIVES.get(v, f"primitive{v}")
        if n == 6:
            return f"list({type_name(first(v, 1, b''))})"
        if n == 7:
            return f"map({type_name(first(v, 1, b''))}, {type_name(first(v, 2, b''))})"
        if n == 9:
            return v.decode()
        if n == 10:
            return v.decode()
        if n == 14:
            return first(v, 1, b"").decode()
    return "?"


def checked(expression):
    """The AST and the type of each node id of a compiled expression."""
    any_ = expression.serialize()
    checked_expr = first(any_, 2)
    types = {}
    for n, entry in fields(checked_expr):
        if n == 3:
            types[first(entry, 1, 0)] = first(entry, 2, b"")
    return first(checked_expr, 4), types


def is_dyn_call(expr):
    call = first(expr, 6)
    return call is not None and first(call, 2, b"") == b"dyn" and first(call, 1) is None


def walk(expr, visit):
    """Calls visit(kind, message) on every node: 'list', 'map' (a map or
    message literal), 'select'."""
    for n, v in fields(expr):
        if n == 5:
            visit("select", v)
            walk(first(v, 1, b""), visit)
        elif n == 6:
            for m, part in fields(v):
                if m in (1, 3):
                    walk(part, visit)
        elif n == 7:
            visit("list", v)
            for m, part in fields(v):
                if m == 1:
                    walk(part, visit)
        elif n == 8:
            visit("map", v)
            for m, entry in fields(v):
                if m == 2:
                    for k, part in fields(entry):
                        if k in (3, 4):
                            walk(part, visit)
        elif n == 9:
            for m, part in fields(v):
                if m in (2, 4, 5, 6, 7):
                    walk(part, visit)


def kubernetes_rules(expression, allowed):
    """The errors cel-go's options and Kubernetes' variables add."""
    root, types = checked(expression)
    errors = []

    def node_type(expr):
        return types.get(first(expr, 2, 0), b"")

    def homogeneous(what, parts):
        if len(parts) < 2 or all(is_dyn_call(p) for p in parts):
            return
        expected = node_type(parts[0])
        for p in parts[1:]:
            if node_type(p) != expected:
                errors.append(
                    f"{what} literal: expected type '{type_name(expected)}' but found "
                    f"'{type_name(node_type(p))}' (homogeneous aggregate literals: "
                    "wrap each element in dyn())")
                return

    def visit(kind, message):
        if kind == "list":
            homogeneous("list", [v for n, v in fields(message) if n == 1])
        elif kind == "map" and not first(message, 1):  # not a message: a map
            entries = [e for n, e in fields(message) if n == 2]
            keys = [first(e, 3) for e in entries if first(e, 3) is not None]
            homogeneous("map key", keys)
            homogeneous("map value", [first(e, 4, b"") for e in entries])
        elif kind == "select":
            operand = first(message, 1, b"")
            ident = first(operand, 4)
            if ident is not None and first(ident, 1, b"") == b"variables":
                name = first(message, 2, b"").decode()
                if name not in allowed:
                    errors.append(f"undefined variable: variables.{name}")

    walk(root, visit)
    return errors


def check_expression(case):
    kind = case["kind"]
    try:
        compiled = env(case["kube"], case["params"], kind).compile(case["text"])
    except Exception as e:  # the checker's own error text
        return [str(e).split(" [INVALID_ARGUMENT]")[0].replace("INVALID_ARGUMENT: ", "")]
    errors = kubernetes_rules(compiled, set(case["variables"]))
    returned = compiled.return_type().name()
    if kind in RETURNS and returned not in RETURNS[kind]:
        errors.append(f"a {kind} returns {returned}")
    return errors


IDENTIFIER = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


def check_name(name):
    if not IDENTIFIER.fullmatch(name):
        return [f"{name!r} is not a CEL identifier"]
    try:
        cel.NewEnv(variables={name: cel.Type.DYN}).compile(name)
    except Exception as e:
        return [str(e).splitlines()[0]]
    return []


def main():
    request = json.load(sys.stdin)
    json.dump({
        "expressions": [check_expression(c) for c in request.get("expressions", [])],
        "names": [check_name(n) for n in request.get("names", [])],
    }, sys.stdout)


if __name__ == "__main__":
    main()
