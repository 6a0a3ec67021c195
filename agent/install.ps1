# codexpanel agent installer for Windows (SPEC AGT-0).
#
#   powershell -NoProfile -ExecutionPolicy Bypass -Command "& ([scriptblock]::Create((irm 'https://RELAY/agent/install.ps1'))) -Server 'https://RELAY'"
#
# Creates the agent's own virtual environment, downloads the agent files the relay lists in
# /agent/version (each checked against its sha256), installs the agent's few dependencies,
# then runs `python -m agent install` with the arguments given.
param(
    [Parameter(Mandatory = $true)][string]$Server,
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$AgentArgs = @()
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

function Say([string]$Text) { Write-Host $Text }

$Server = $Server.TrimEnd('/')
if ($Server -notmatch '^https?://') { throw 'Pass -Server https://your-relay (the address this script came from)' }

# Python 3.11 or newer: the py launcher first, then python on PATH.
$python = $null
$pythonArgs = @()
foreach ($candidate in @(@('py', '-3'), @('python'))) {
    $exe = Get-Command $candidate[0] -ErrorAction SilentlyContinue
    if ($null -eq $exe) { continue }
    $extra = @($candidate | Select-Object -Skip 1)
    & $exe.Source @extra -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>$null
    if ($LASTEXITCODE -eq 0) { $python = $exe.Source; $pythonArgs = $extra; break }
}
if ($null -eq $python) { throw 'Python 3.11 or newer is needed: https://www.python.org/downloads/windows/' }

$installDir = Join-Path $env:LOCALAPPDATA 'CodexPanelAgent'
New-Item -ItemType Directory -Force -Path $installDir | Out-Null
Say "Install directory / 安装目录: $installDir"

$venvPython = Join-Path $installDir 'venv\Scripts\python.exe'
if (-not (Test-Path $venvPython)) {
    Say 'Creating the agent''s Python environment / 创建 Python 环境'
    & $python @pythonArgs -m venv (Join-Path $installDir 'venv')
    if ($LASTEXITCODE -ne 0) { throw 'python -m venv failed' }
}

Say 'Downloading host-runtime files / 预下载资源'
$manifest = Invoke-RestMethod -Uri "$Server/agent/version" -TimeoutSec 30
$staged = Join-Path $installDir 'bootstrap.new'
$target = Join-Path $installDir 'bootstrap'
if (Test-Path $staged) { Remove-Item -Recurse -Force $staged }
foreach ($file in $manifest.files) {
    $relative = [string]$file.path
    if ($relative.StartsWith('/') -or $relative -match '(^|/)\.\.(/|$)') {
        throw "Unsafe path in the manifest: $relative"
    }
    $destination = Join-Path $staged ('agent\' + $relative.Replace('/', '\'))
    New-Item -ItemType Directory -Force -Path (Split-Path -Parent $destination) | Out-Null
    Invoke-WebRequest -Uri "$Server/agent/$relative" -OutFile $destination -UseBasicParsing -TimeoutSec 30
    $hash = (Get-FileHash -Algorithm SHA256 -Path $destination).Hash.ToLowerInvariant()
    if ($hash -ne $file.sha256) {
        Remove-Item -Recurse -Force $staged
        throw "$relative does not match its sha256; run the installer again"
    }
}
if (Test-Path $target) { Remove-Item -Recurse -Force $target }
Move-Item -Path $staged -Destination $target
Say "agent $($manifest.agentVersion): $(@($manifest.files).Count) files verified"

Say 'Installing the agent''s dependencies / 安装依赖'
& $venvPython -m pip install --quiet --disable-pip-version-check -r (Join-Path $target 'agent\requirements.txt')
if ($LASTEXITCODE -ne 0) { throw 'pip could not install the dependencies' }

$env:PYTHONPATH = $target
& $venvPython -m agent install --server $Server @AgentArgs
exit $LASTEXITCODE
